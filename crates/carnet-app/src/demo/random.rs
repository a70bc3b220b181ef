//! Seeded random data: a small deterministic generator and the names, cities
//! and texts the demo company and the scale data sets are made of.

/// A small deterministic generator (splitmix64): the same seed, the same data.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

pub(super) const FIRST: &[&str] = &[
    "Camille",
    "Julien",
    "Élodie",
    "Thomas",
    "Sophie",
    "Nicolas",
    "Chloé",
    "Antoine",
    "Manon",
    "Lucas",
    "Inès",
    "Hugo",
    "Emma",
    "Louis",
    "Sarah",
    "James",
    "Olivia",
    "William",
    "Charlotte",
    "Oliver",
    "Amelia",
    "Harry",
    "Isabelle",
    "Mathieu",
    "Aurélie",
    "Pierre",
    "Claire",
    "David",
    "Laura",
    "Benoît",
];
pub(super) const LAST: &[&str] = &[
    "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau", "Simon", "Laurent", "Lefèvre",
    "Michel", "Garcia", "Smith", "Johnson", "Brown", "Taylor", "Wilson", "Davies", "Evans", "Roux", "Fournier", "Girard", "Bonnet",
    "Faure", "Mercier", "Blanc", "Guérin",
];
pub(super) const COMPANY_A: &[&str] = &[
    "Atelier",
    "Groupe",
    "Imprimerie",
    "Cabinet",
    "Laboratoires",
    "Transports",
    "Boulangerie",
    "Clinique",
    "Northwind",
    "Bluebird",
    "Harbor",
    "Summit",
    "Maison",
    "Ateliers",
    "Société",
    "Pioneer",
    "Granite",
    "Riverside",
    "Alpine",
    "Horizon",
];
pub(super) const COMPANY_B: &[&str] = &[
    "Dupuis",
    "Lumière",
    "Beaumont",
    "Vauban",
    "Colbert",
    "Mistral",
    "Garonne",
    "Rhône",
    "Logistics",
    "Print Works",
    "Dental",
    "Solutions",
    "Foods",
    "Consulting",
    "Médical",
    "Bâtiment",
    "Energy",
    "Analytics",
    "Textiles",
    "Bretagne",
];
pub(super) const CITIES: &[(&str, &str, &str)] = &[
    ("Paris", "75008", "France"),
    ("Lyon", "69002", "France"),
    ("Bordeaux", "33000", "France"),
    ("Nantes", "44000", "France"),
    ("Lille", "59000", "France"),
    ("Toulouse", "31000", "France"),
    ("Rennes", "35000", "France"),
    ("Marseille", "13001", "France"),
    ("London", "EC1A 1BB", "United Kingdom"),
    ("Manchester", "M1 1AE", "United Kingdom"),
    ("Bruxelles", "1000", "Belgique"),
    ("Genève", "1201", "Suisse"),
];
pub(super) const JOBS: &[&str] = &[
    "CEO",
    "Directeur général",
    "Office manager",
    "Responsable achats",
    "Comptable",
    "IT manager",
    "Head of operations",
    "Assistante de direction",
    "CFO",
    "Responsable informatique",
];
pub(super) const COMMENTS: &[&str] = &[
    "Met at the trade show in Lyon; interested in a fleet renewal next spring.",
    "Client très satisfait du dernier contrat, à relancer pour l'extension au site de Nantes.",
    "Decision expected after their board meeting. Budget confirmed by the CFO.",
    "Attention : le comptable gère les factures, pas les devis. Passer par le directeur.",
    "Asked for a comparison with their current supplier. Sent the product sheet.",
    "Visite sur site prévue, 12 imprimantes à remplacer.",
    "Holiday cover: Tom follows this account until the 20th.",
];
