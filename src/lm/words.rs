//! The language model's own word splitter and case folding.
//!
//! Kept apart from [`crate::tokenize`](mod@crate::tokenize) on purpose: a model's vocabulary is
//! fixed when it is built, so the text it scores must be split and folded
//! exactly as its training text was, whatever the tokenizer becomes.
//!
//! Rules, chosen to match the CMU Sphinx vocabulary (lower case, with
//! apostrophes and hyphens inside words: "don't", "o'clock", "anti-war"):
//!
//! * a word is a run of letters and digits, joined by `'`, `’`, `-` or `.`
//!   when one stands between two letters or digits ("don't", "3.5");
//! * an initialism keeps its last dot: "U.S." is one word, `u.s.`
//!   ([`super::LanguageModel::ids`] spells it `u. s.` for the Sphinx model);
//! * words are folded to lower case, and `’`/`‘` to `'`;
//! * a sentence ends at `.`, `!` or `?` outside a word, and at a blank line.

/// Folds a word the way every vocabulary is keyed: lower case, typographic
/// apostrophes as `'`.
pub fn fold(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    for c in word.chars() {
        match c {
            '\u{2019}' | '\u{2018}' => out.push('\''),
            c if c.is_ascii() => out.push(c.to_ascii_lowercase()),
            c => out.extend(c.to_lowercase()),
        }
    }
    out
}

/// The longest ASCII word [`with_folded`] folds on the stack (longer ones
/// are folded into a `String`).
const ASCII_FOLD_MAX: usize = 64;

/// Calls `f` with `word` [folded](fold): as it is when folding would not
/// change it, and folded on the stack when it is short and ASCII (where
/// folding is `to_ascii_lowercase`). The model looks up every word folded,
/// and a `String` for each capitalized one (sentence starts, names) was
/// half of `fold`'s allocations in a `score` run.
pub(crate) fn with_folded<R>(word: &str, f: impl FnOnce(&str) -> R) -> R {
    if word.bytes().all(|b| b.is_ascii() && !b.is_ascii_uppercase()) {
        f(word)
    } else if word.is_ascii() && word.len() <= ASCII_FOLD_MAX {
        let mut buf = [0u8; ASCII_FOLD_MAX];
        let folded = &mut buf[..word.len()];
        folded.copy_from_slice(word.as_bytes());
        folded.make_ascii_lowercase();
        f(std::str::from_utf8(folded).expect("ASCII is UTF-8"))
    } else {
        f(&fold(word))
    }
}

/// True if `c` may join two word characters into one word.
fn is_joiner(c: char) -> bool {
    matches!(c, '\'' | '\u{2019}' | '-' | '.')
}

/// True if `word` (folded or not) is an initialism of single letters split
/// by dots, such as `u.s` or `u.s.` (not `3.5`, not `mr`).
pub fn is_initialism(word: &str) -> bool {
    let body = word.strip_suffix('.').unwrap_or(word);
    let mut n = 0;
    for part in body.split('.') {
        let mut chars = part.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) if c.is_alphabetic() => n += 1,
            _ => return false,
        }
    }
    n >= 2
}

/// The American spelling of a folded British one ("criticised" →
/// "criticized", "programmes" → "programs", "colour" → "color",
/// "labour's" → "labor's"), by word ending (-ise, -isation, -yse, -our,
/// -re, -mme, -ence, -ogue, -lled, -llor, -llist) or from a short list;
/// `None` when no rule applies. Models trained on
/// American text (the embedded one) lack most British spellings, which
/// would otherwise read as the rarest of words.
pub fn american_spelling(word: &str) -> Option<String> {
    // Called for every word the model does not know, numbers included:
    // most fail the first check.
    let last = *word.as_bytes().last()?;
    if !last.is_ascii_lowercase() {
        return None;
    }
    let listed = match word {
        "grey" => "gray",
        "greys" => "grays",
        "tyre" => "tire",
        "tyres" => "tires",
        "cheque" => "check",
        "cheques" => "checks",
        "plough" => "plow",
        "sceptic" => "skeptic",
        "sceptics" => "skeptics",
        "sceptical" => "skeptical",
        "jewellery" => "jewelry",
        "aeroplane" => "airplane",
        "aeroplanes" => "airplanes",
        "manoeuvre" => "maneuver",
        "manoeuvres" => "maneuvers",
        "pyjamas" => "pajamas",
        "draught" => "draft",
        "kerb" => "curb",
        "ageing" => "aging",
        "judgement" => "judgment",
        "judgements" => "judgments",
        "acknowledgement" => "acknowledgment",
        "distil" => "distill",
        "distils" => "distills",
        "fulfil" => "fulfill",
        "fulfils" => "fulfills",
        "fulfilment" => "fulfillment",
        "enrol" => "enroll",
        "enrols" => "enrolls",
        "enrolment" => "enrollment",
        "enrolments" => "enrollments",
        "instalment" => "installment",
        "instalments" => "installments",
        "skilful" => "skillful",
        "skilfully" => "skillfully",
        "wilful" => "willful",
        "wilfully" => "willfully",
        "storey" => "story",
        "storeys" => "stories",
        "mould" => "mold",
        "moulds" => "molds",
        "mouldy" => "moldy",
        "smoulder" => "smolder",
        "smouldering" => "smoldering",
        "centring" => "centering",
        "cosy" => "cozy",
        "aluminium" => "aluminum",
        "sulphur" => "sulfur",
        "paediatric" => "pediatric",
        "paediatrician" => "pediatrician",
        "anaesthetic" => "anesthetic",
        "oestrogen" => "estrogen",
        "foetus" => "fetus",
        "haemorrhage" => "hemorrhage",
        "leukaemia" => "leukemia",
        "orthopaedic" => "orthopedic",
        "encyclopaedia" => "encyclopedia",
        "manoeuvring" => "maneuvering",
        "manoeuvred" => "maneuvered",
        "ploughed" => "plowed",
        "ploughing" => "plowing",
        "scepticism" => "skepticism",
        "practise" => "practice",
        "practises" => "practices",
        "practised" => "practiced",
        "practising" => "practicing",
        _ => "",
    };
    if !listed.is_empty() {
        return Some(listed.to_string());
    }
    // A possessive: the stem's spelling.
    if let Some(stem) = word.strip_suffix("'s") {
        return american_spelling(stem).map(|us| format!("{us}'s"));
    }
    // (British ending, American ending), longest first within a family.
    const ENDINGS: &[(&str, &str)] = &[
        ("isations", "izations"),
        ("isable", "izable"),
        ("isation", "ization"),
        ("ising", "izing"),
        ("isers", "izers"),
        ("iser", "izer"),
        ("ised", "ized"),
        ("ises", "izes"),
        ("ise", "ize"),
        ("ysing", "yzing"),
        ("ysed", "yzed"),
        ("yses", "yzes"),
        ("yse", "yze"),
        ("ourable", "orable"),
        ("ourably", "orably"),
        ("ourites", "orites"),
        ("ourite", "orite"),
        ("ouring", "oring"),
        ("oured", "ored"),
        ("ourer", "orer"),
        ("ours", "ors"),
        ("our", "or"),
        ("mmes", "ms"),
        ("mme", "m"),
        ("ences", "enses"),
        ("ence", "ense"),
        ("ogues", "ogs"),
        ("ogue", "og"),
        ("lled", "led"),
        ("lling", "ling"),
        ("llers", "lers"),
        ("ller", "ler"),
        ("llors", "lors"),
        ("llor", "lor"),
        ("llists", "lists"),
        ("llist", "list"),
        ("tres", "ters"),
        ("tred", "tered"),
        ("tre", "ter"),
        ("bres", "bers"),
        ("bre", "ber"),
    ];
    ENDINGS.iter().filter(|(uk, _)| uk.as_bytes().last() == Some(&last)).find_map(|&(uk, us)| {
        let stem = word.strip_suffix(uk)?;
        (!stem.is_empty()).then(|| format!("{stem}{us}"))
    })
}

/// An acronym in capitals: 2 to 5 ASCII capital letters, or such a run
/// followed by a plural `s` ("UK", "NHS", "MPs"). Returns the letters and
/// whether it is plural.
pub fn acronym(word: &str) -> Option<(&str, bool)> {
    let (letters, plural) = match word.strip_suffix('s') {
        Some(stem) if stem.len() >= 2 => (stem, true),
        _ => (word, false),
    };
    ((2..=5).contains(&letters.len()) && letters.bytes().all(|b| b.is_ascii_uppercase()))
        .then_some((letters, plural))
}

/// Splits `text` into sentences of folded words.
pub fn sentences(text: &str) -> Vec<Vec<String>> {
    Sentences::new(text).collect()
}

/// An iterator over the sentences of a text, each a vector of folded
/// words; it keeps nothing but its position, so a large text can be
/// streamed.
#[derive(Debug, Clone)]
pub struct Sentences<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Sentences<'a> {
    /// The sentences of `text`.
    pub fn new(text: &'a str) -> Sentences<'a> {
        Sentences { text, pos: 0 }
    }

    fn char_at(&self, at: usize) -> Option<char> {
        self.text.get(at..)?.chars().next()
    }

    /// Reads the word starting at `self.pos`, which is alphanumeric.
    fn word(&mut self) -> String {
        let start = self.pos;
        let mut end = start;
        while let Some(c) = self.char_at(end) {
            // A joiner belongs to the word only between two word characters.
            let joins = || {
                is_joiner(c) && self.char_at(end + c.len_utf8()).is_some_and(char::is_alphanumeric)
            };
            if !c.is_alphanumeric() && !joins() {
                break;
            }
            end += c.len_utf8();
        }
        // "U.S." keeps its final dot, which then does not end a sentence.
        if self.char_at(end) == Some('.') && is_initialism(&self.text[start..end]) {
            end += 1;
        }
        self.pos = end;
        fold(&self.text[start..end])
    }
}

impl Iterator for Sentences<'_> {
    type Item = Vec<String>;

    fn next(&mut self) -> Option<Vec<String>> {
        let mut current = Vec::new();
        let mut newlines = 0;
        while let Some(c) = self.char_at(self.pos) {
            if c.is_alphanumeric() {
                newlines = 0;
                current.push(self.word());
                continue;
            }
            self.pos += c.len_utf8();
            let ends = match c {
                '.' | '!' | '?' => true,
                '\n' => {
                    newlines += 1;
                    newlines >= 2
                }
                c if c.is_whitespace() => false,
                _ => {
                    newlines = 0;
                    false
                }
            };
            if ends && !current.is_empty() {
                return Some(current);
            }
        }
        (!current.is_empty()).then_some(current)
    }
}

/// Splits `text` into folded words, ignoring sentence ends.
pub fn words(text: &str) -> Vec<String> {
    sentences(text).into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn with_folded_sees_what_fold_makes() {
        use super::{fold, with_folded};
        let long = "Pneumonoultramicroscopicsilicovolcanoconiosis".repeat(2);
        for w in ["word", "Word", "U.S.", "DON'T", "Don\u{2019}t", "Café", "ÉCOLE", &long, ""] {
            assert_eq!(with_folded(w, str::to_string), fold(w), "{w}");
        }
    }

    #[test]
    fn british_spellings_have_american_ones() {
        use super::american_spelling as us;
        for (uk, want) in [
            ("criticised", "criticized"),
            ("liberalisation", "liberalization"),
            ("programmes", "programs"),
            ("favourable", "favorable"),
            ("analysed", "analyzed"),
            ("centre", "center"),
            ("centred", "centered"),
            ("travelled", "traveled"),
            ("defence", "defense"),
            ("catalogue", "catalog"),
            ("tyres", "tires"),
            ("labour's", "labor's"),
            ("councillors", "councilors"),
            ("medallist", "medalist"),
            ("ageing", "aging"),
            ("instalments", "installments"),
            ("recognisable", "recognizable"),
            ("practises", "practices"),
        ] {
            assert_eq!(us(uk).as_deref(), Some(want), "{uk}");
        }
        assert_eq!(us("table"), None);
        assert_eq!(us("table's"), None);
    }

    use super::*;

    #[test]
    fn splits_words_and_sentences() {
        let s = sentences("The U.S. said: don't go! It’s 3.5 per-cent.\n\nNew para");
        assert_eq!(
            s,
            vec![
                vec!["the", "u.s.", "said", "don't", "go"],
                vec!["it's", "3.5", "per-cent"],
                vec!["new", "para"],
            ]
        );
        assert_eq!(sentences("one\ntwo\n\nthree"), vec![vec!["one", "two"], vec!["three"]]);
        assert_eq!(words("end. 'quoted' -dash- x"), vec!["end", "quoted", "dash", "x"]);
    }

    #[test]
    fn acronyms() {
        assert_eq!(acronym("UK"), Some(("UK", false)));
        assert_eq!(acronym("MPs"), Some(("MP", true)));
        assert_eq!(acronym("NHS"), Some(("NHS", false)));
        assert_eq!(acronym("Uk"), None);
        assert_eq!(acronym("I"), None);
        assert_eq!(acronym("Is"), None);
        assert_eq!(acronym("ABCDEF"), None);
        assert_eq!(acronym("U.K."), None);
    }

    #[test]
    fn initialisms() {
        assert!(is_initialism("u.s."));
        assert!(is_initialism("u.s"));
        assert!(is_initialism("a.m."));
        assert!(!is_initialism("3.5"));
        assert!(!is_initialism("mr."));
        assert!(!is_initialism("u."));
        assert!(!is_initialism("us"));
    }
}
