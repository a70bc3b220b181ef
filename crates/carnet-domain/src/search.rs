//! Search tokens (SPEC R10). A record is indexed under the folded words of its
//! names, its emails, phone digits, company identifiers and tag names; a query
//! matches records that have, for every query word, a token starting with it.
//! Prefix matching on a plain indexed column works the same on both databases.

use crate::values::fold;

/// Longest token stored; longer words are cut (prefix matching still works).
pub const MAX_TOKEN: usize = 40;

#[derive(Default)]
pub struct TokenSet(Vec<String>);

impl TokenSet {
    pub fn new() -> Self {
        Self::default()
    }
    /// Every folded word of a name.
    pub fn words(&mut self, text: &str) -> &mut Self {
        for w in fold(text).split(' ').filter(|w| !w.is_empty()) {
            self.push(w);
        }
        self
    }
    /// An email: the whole address and its local part.
    pub fn email(&mut self, email: &str) -> &mut Self {
        let e = email.to_lowercase();
        if let Some((local, _)) = e.split_once('@') {
            self.push(local);
        }
        self.push(&e);
        self
    }
    /// Phone digits, and without the leading zero.
    pub fn digits(&mut self, digits: &str) -> &mut Self {
        let d: String = digits.chars().filter(char::is_ascii_digit).collect();
        if !d.is_empty() {
            if let Some(rest) = d.strip_prefix('0') {
                self.push(rest);
            }
            self.push(&d);
        }
        self
    }
    /// A company identifier, lower-cased letters and digits.
    pub fn code(&mut self, raw: &str) -> &mut Self {
        let k = crate::values::company_id_key(raw).to_lowercase();
        if !k.is_empty() {
            self.push(&k);
        }
        self
    }
    fn push(&mut self, t: &str) {
        let t: String = t.chars().take(MAX_TOKEN).collect();
        if !t.is_empty() && !self.0.contains(&t) {
            self.0.push(t);
        }
    }
    pub fn into_vec(self) -> Vec<String> {
        self.0
    }
}

/// Splits a query into the prefixes every match must have. Punctuation inside
/// emails is kept; other input is folded like names.
pub fn query_terms(q: &str) -> Vec<String> {
    // A whole query that looks like a phone number is one term, in the same
    // national form as stored numbers ("+33 6 11" finds "06 11 …").
    let t = q.trim();
    let digits: String = t.chars().filter(char::is_ascii_digit).collect();
    if digits.len() >= 4 && t.chars().all(|c| c.is_ascii_digit() || " +.-()/".contains(c)) {
        let national = if let Some(rest) = t.strip_prefix("+33").or_else(|| t.strip_prefix("0033")) {
            let d: String = rest.chars().filter(char::is_ascii_digit).collect();
            format!("0{d}")
        } else {
            digits
        };
        let term = national.strip_prefix('0').map(str::to_string).unwrap_or(national);
        return vec![term.chars().take(MAX_TOKEN).collect()];
    }
    let mut out = Vec::new();
    for raw in q.split_whitespace().take(6) {
        let lower = raw.to_lowercase();
        // Emails and their local parts ("j.dupont", "a_b@x") are indexed whole.
        let emailish = lower.contains('@')
            || (lower.contains(['.', '_'])
                && lower.chars().all(|c| c.is_alphanumeric() || "._-+@".contains(c))
                && lower.chars().any(char::is_alphanumeric)
                && !lower.ends_with('.'));
        let term = if emailish {
            lower
        } else if raw.chars().all(|c| c.is_ascii_digit() || "+.-()".contains(c)) && raw.chars().any(|c| c.is_ascii_digit()) {
            let d: String = raw.chars().filter(char::is_ascii_digit).collect();
            d.strip_prefix('0').map(str::to_string).unwrap_or(d)
        } else {
            fold(raw)
        };
        for t in term.split(' ') {
            let t: String = t.chars().take(MAX_TOKEN).collect();
            if !t.is_empty() && !out.contains(&t) {
                out.push(t);
            }
        }
    }
    out
}

/// The exclusive upper bound for a prefix range scan: `token >= p AND token < upper(p)`.
pub fn prefix_upper_bound(p: &str) -> String {
    format!("{p}\u{10FFFF}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn tokens_and_terms() {
        let mut t = TokenSet::new();
        t.words("Élodie Martin")
            .email("e.martin@acme.fr")
            .digits("0612345678")
            .code("552 100 554");
        let v = t.into_vec();
        for want in [
            "elodie",
            "martin",
            "e.martin",
            "e.martin@acme.fr",
            "612345678",
            "0612345678",
            "552100554",
        ] {
            assert!(v.contains(&want.to_string()), "{want} in {v:?}");
        }
        assert_eq!(query_terms("Élo MAR"), vec!["elo", "mar"]);
        assert_eq!(query_terms("06 12"), vec!["612"]);
        assert_eq!(query_terms("+33 6 12"), vec!["612"]);
        assert_eq!(query_terms("2026 plan"), vec!["2026", "plan"]);
        assert_eq!(query_terms("E.Martin@"), vec!["e.martin@"]);
        assert_eq!(query_terms("camille.martin12"), vec!["camille.martin12"]);
        assert_eq!(query_terms("J. Dupont"), vec!["j", "dupont"]);
    }

    proptest! {
        /// Any word of a name, cut anywhere, finds the name.
        #[test]
        fn every_name_prefix_matches(name in "[A-Za-zéèà ]{1,30}", cut in 1usize..10) {
            let mut t = TokenSet::new();
            t.words(&name);
            let tokens = t.into_vec();
            for term in query_terms(&name.chars().take(cut).collect::<String>()) {
                prop_assert!(tokens.iter().any(|tok| tok.starts_with(&term) && tok.as_str() < prefix_upper_bound(&term).as_str()));
            }
        }
    }
}
