//! The lattice: Viterbi over trigram histories through the spans the
//! pre-check let through, deciding overlapping and adjacent spans
//! together; and the detector's choice of each span on its own.

use super::*;

impl Decoder {
    /// Viterbi over one sentence; marks chosen spans and their confidence.
    ///
    /// `cands`: the buffer of the arcs' candidates ([`Arc::cands`]);
    /// `origins`: where each span's original is ([`Arcs::origins`]).
    /// `prechecked`: whether `scratch.observed` holds this sentence's
    /// lookups (the pre-check just ran on it); if not, they start afresh.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn viterbi(
        &self,
        sentence: &Sentence,
        arcs: &[Arc],
        cands: &[Prepared<'_>],
        origins: &mut [(u16, u32)],
        cache: Option<&DocCache>,
        scratch: &mut Scratch,
        analysis: &mut Analysis,
        prechecked: bool,
    ) {
        let p = &self.params;
        let n = sentence.len();
        // Units some span covers: their kept words get the cache model too,
        // and only they need scoring when a single history reaches them
        // (the others are kept on every path).
        let Scratch {
            states, arcs_at, path, covered, observed: obs, shared, chosen, starts, ..
        } = scratch;
        let ids = &sentence.ids;
        if !prechecked {
            obs.reset(ids.len());
        }
        covered.clear();
        covered.resize(n, false);
        for a in arcs {
            covered[a.first..a.last].fill(true);
        }
        let covered = &covered[..];
        let observed_cache = |i: usize| cache.filter(|_| covered[i]).map(|c| (c, true));
        let cand_cache = cache.map(|c| (c, false));
        if states.len() < n + 1 {
            states.resize_with(n + 1, Vec::new);
        }
        if arcs_at.len() < n {
            arcs_at.resize_with(n, Vec::new);
        }
        let states = &mut states[..n + 1];
        let arcs_at = &mut arcs_at[..n];
        states.iter_mut().for_each(Vec::clear);
        arcs_at.iter_mut().for_each(Vec::clear);
        let bos = self.lm.bos();
        states[0].push(State {
            w2: bos,
            w1: bos,
            ctx: None,
            changed: false,
            score: 0.0,
            back: None,
        });
        // Log odds of a change right after a change, relative to the prior.
        let odds = |r: f32| r.log10() - (1.0 - r).log10();
        let follow_bonus = odds(p.follow_rate) - odds(p.prior_rate);
        let keep_after_change = (1.0 - p.follow_rate).log10() - (1.0 - p.prior_rate).log10();
        for (ai, a) in arcs.iter().enumerate() {
            arcs_at[a.first].push(ai);
        }
        for i in 0..n {
            prune(&mut states[i], p.beam);
            if let [st] = states[i][..] {
                if !covered[i] {
                    // Every path keeps unit i after this one history, so its
                    // score adds the same to all of them and cannot change
                    // the best path: move the history on without scoring.
                    // (The gains below are computed afresh.)
                    let (mut w2, mut w1) = (st.w2, st.w1);
                    for &w in sentence.ids_of(i, i + 1) {
                        (w2, w1) = (w1, w);
                    }
                    let back = Some((i, 0, Edge::Keep));
                    let next = State { w2, w1, ctx: None, changed: false, score: st.score, back };
                    states[i + 1].push(next);
                    continue;
                }
            }
            let current = std::mem::take(&mut states[i]);
            let (lo, hi) = (sentence.units[i].lo, sentence.units[i].hi);
            let before = sentence.before(i, bos);
            // Group the states (other than the observed history) that end
            // in the same word (see `Shared`); at order 3 only, where an
            // emission's lookups after the first word depend on it alone.
            shared.group_of.clear();
            shared.groups.clear();
            shared.emits.clear();
            shared.rest.clear();
            // Emissions per state: the kept word, then every candidate.
            let n_emits = 1 + arcs_at[i].iter().map(|&ai| arcs[ai].cands.len()).sum::<usize>();
            if p.lm_order >= 3 && current.len() > 1 {
                for (si, st) in current.iter().enumerate() {
                    let other = |o: &State| (o.w2, o.w1) != before && o.w1 == st.w1;
                    let g = if (st.w2, st.w1) == before {
                        None
                    } else if let Some(g) = shared.groups.iter().position(|&w| w == st.w1) {
                        Some((g, false))
                    } else if current[si + 1..].iter().any(other) {
                        shared.groups.push(st.w1);
                        Some((shared.groups.len() - 1, true))
                    } else {
                        None
                    };
                    shared.group_of.push(g);
                }
            } else {
                shared.group_of.resize(current.len(), None);
            }
            for (si, st) in current.iter().enumerate() {
                let keep = if st.changed { keep_after_change } else { 0.0 };
                let bonus = if st.changed { follow_bonus } else { 0.0 };
                if (st.w2, st.w1) == before {
                    // The observed history (kept words up to here; its
                    // emissions depend on (w2, w1) alone): the pre-check
                    // looked up what it emits, the observed word in
                    // `obs` and each candidate's first word in stage 1,
                    // summed here as `emit_in` sums them.
                    let mut s = 0.0;
                    let (mut w2, mut w1) = (st.w2, st.w1);
                    for q in lo..hi {
                        let l = self.observed_lookup(obs, ids, q);
                        s += mix(observed_cache(i), ids[q], l.log10);
                        (w2, w1) = (w1, ids[q]);
                    }
                    relax(
                        &mut states[i + 1],
                        State {
                            w2,
                            w1,
                            ctx: obs.ctx[hi],
                            changed: false,
                            score: st.score + s + keep,
                            back: Some((i, si, Edge::Keep)),
                        },
                    );
                    for &ai in &arcs_at[i] {
                        let a = &arcs[ai];
                        for (ci, c) in a.cands(cands).iter().enumerate() {
                            let (s, w2, w1, next) =
                                self.emit_after_first(c.first, st.w1, c.ids, cand_cache);
                            relax(
                                &mut states[a.last],
                                State {
                                    w2,
                                    w1,
                                    ctx: next,
                                    changed: true,
                                    score: st.score + s + c.channel + bonus,
                                    back: Some((i, si, Edge::Replace { arc: ai, cand: ci })),
                                },
                            );
                        }
                    }
                    continue;
                }
                // The state's context, resolved once for all its edges.
                let ctx = st.ctx.unwrap_or_else(|| self.context(st.w2, st.w1));
                // Emission `e` of this state (0: the kept word), shared
                // with the states of its group.
                let group = shared.group_of[si];
                let mut emit = |e: usize, ids: &[WordId], cache: Cache<'_>| match group {
                    None => self.emit_in(&ctx, st.w2, st.w1, ids, cache),
                    Some((g, true)) => {
                        debug_assert_eq!(shared.emits.len(), g * n_emits + e);
                        self.emit_fill(&ctx, st.w2, st.w1, ids, cache, shared)
                    }
                    Some((g, false)) => match shared.emits[g * n_emits + e] {
                        Some(ref se) => self.emit_shared(&ctx, ids, cache, se, &shared.rest),
                        None => self.emit_in(&ctx, st.w2, st.w1, ids, cache),
                    },
                };
                // Keep the observed word.
                let (s, w2, w1, next) = emit(0, sentence.ids_of(i, i + 1), observed_cache(i));
                relax(
                    &mut states[i + 1],
                    State {
                        w2,
                        w1,
                        ctx: Some(next),
                        changed: false,
                        score: st.score + s + keep,
                        back: Some((i, si, Edge::Keep)),
                    },
                );
                // A state that reads its group's emissions has their
                // bigrams already.
                let reads = matches!(group, Some((_, false)));
                for &ai in &arcs_at[i] {
                    for c in arcs[ai].cands(cands) {
                        if reads {
                            self.lm.prefetch_trigram_in(&ctx, c.ids[0]);
                        } else {
                            self.lm.prefetch_in(&ctx, c.ids[0]);
                        }
                    }
                }
                let mut e = 0;
                for &ai in &arcs_at[i] {
                    let a = &arcs[ai];
                    for (ci, c) in a.cands(cands).iter().enumerate() {
                        e += 1;
                        let (s, w2, w1, next) = emit(e, c.ids, cand_cache);
                        relax(
                            &mut states[a.last],
                            State {
                                w2,
                                w1,
                                ctx: Some(next),
                                changed: true,
                                score: st.score + s + c.channel + bonus,
                                back: Some((i, si, Edge::Replace { arc: ai, cand: ci })),
                            },
                        );
                    }
                }
            }
            states[i] = current;
        }
        // Close the sentence.
        let eos = self.lm.eos();
        let Some((best_ix, _)) = states[n]
            .iter()
            .enumerate()
            .map(|(k, s)| {
                let ctx = s.ctx.unwrap_or_else(|| self.context(s.w2, s.w1));
                (k, s.score + self.lm.score_in(&ctx, eos))
            })
            .max_by(|a, b| a.1.total_cmp(&b.1))
        else {
            return;
        };
        // Trace back the best path.
        path.clear();
        let (mut pos, mut ix) = (n, best_ix);
        while let Some((prev, prev_ix, edge)) = states[pos][ix].back {
            path.push((prev, edge));
            pos = prev;
            ix = prev_ix;
        }
        path.reverse();
        // The chosen words, for the confidence of each edit in its context:
        // all in one buffer, step k's from `starts[k]` (only when something
        // was replaced).
        chosen.clear();
        starts.clear();
        if path.iter().any(|(_, e)| *e != Edge::Keep) {
            for &(at, edge) in path.iter() {
                starts.push(chosen.len());
                match edge {
                    Edge::Keep => chosen.extend_from_slice(sentence.ids_of(at, at + 1)),
                    Edge::Replace { arc, cand } => {
                        chosen.extend_from_slice(arcs[arc].cands(cands)[cand].ids)
                    }
                }
            }
            starts.push(chosen.len());
        }
        // The other candidates' weights and origins (only with
        // `Params::alternatives`).
        let mut runners_up: Vec<(f32, (u16, u32))> = Vec::new();
        for (step, &(_, edge)) in path.iter().enumerate() {
            let Edge::Replace { arc, cand } = edge else { continue };
            let a = &arcs[arc];
            let c = &a.cands(cands)[cand];
            let (w2, w1) = ctx2(&chosen[..starts[step]], bos);
            let next = &chosen[starts[step + 1]..];
            // Two words after, padded with `</s>` once.
            let after_buf =
                [next.first().copied().unwrap_or(eos), next.get(1).copied().unwrap_or(eos)];
            let after: &[WordId] = if next.is_empty() { &after_buf[..1] } else { &after_buf };
            let observed = sentence.ids_of(a.first, a.last);
            let mut end = BigramMemo::default();
            let chosen_score = self.window(w2, w1, c.ids, after, cand_cache, &mut end) + c.channel;
            let kept_score =
                self.window(w2, w1, observed, after, cache.map(|c| (c, true)), &mut end);
            let gain = chosen_score - kept_score;
            // The confidence is the chosen candidate's share of the span's
            // readings in this context: the observed words and every
            // candidate weighed, each by its window and channel (log10,
            // relative to the chosen one's).
            // Where the chosen path kept the two words before the span, a
            // candidate's first word was scored in that very context by
            // the pre-check (`Prepared::first`): the same sum, one lookup
            // fewer.
            let kept_before = sentence.before(a.first, bos) == (w2, w1);
            let no_probe = BigramMemo::default();
            let mut total = 1.0 + 10f32.powf(-gain);
            runners_up.clear();
            for (k, o) in a.cands(cands).iter().enumerate() {
                if k != cand {
                    let window = if kept_before && !o.ids.is_empty() {
                        self.window_rest(o.first, w1, o.ids, after, cand_cache, &no_probe, &mut end)
                    } else {
                        self.window(w2, w1, o.ids, after, cand_cache, &mut end)
                    };
                    let weight = 10f32.powf(window + o.channel - chosen_score);
                    total += weight;
                    if p.alternatives > 0 {
                        runners_up.push((weight, o.origin));
                    }
                }
            }
            let span = &mut analysis.spans[a.span_ix];
            span.alternatives.clear();
            if p.alternatives > 0 {
                self.spell_alternatives(c.origin, &mut runners_up, total, analysis.words, span);
            }
            origins[a.span_ix] = c.origin;
            span.sources = c.sources;
            span.weight = c.weight;
            span.gain = gain;
            span.chosen = gain > 0.0;
            span.share = 1.0 / total;
            span.confidence = edit_confidence(
                p.edit_confidence,
                p.edit_confidence_short,
                span.share,
                analysis.words,
            );
        }
        for a in arcs {
            let span = &mut analysis.spans[a.span_ix];
            if !span.chosen {
                span.confidence = logistic(p.confidence_slope * span.gain.min(0.0));
            }
        }
    }

    /// Fills `span.alternatives` with the [`Params::alternatives`]
    /// heaviest of `runners_up` (weight, origin; weights relative to the
    /// chosen candidate's, whose origin is `chosen`), as shares of `total`
    /// with their confidences in a document of `words`. Candidates spelled
    /// like the chosen one or like a heavier one (the same original from
    /// two lexicons) add their share to it instead.
    fn spell_alternatives(
        &self,
        chosen: (u16, u32),
        runners_up: &mut [(f32, (u16, u32))],
        total: f32,
        words: usize,
        span: &mut Span,
    ) {
        let p = &self.params;
        runners_up.sort_by(|a, b| b.0.total_cmp(&a.0));
        let chosen = self.lexicon.original(chosen);
        let alts = &mut span.alternatives;
        for &(weight, origin) in runners_up.iter() {
            let original = self.lexicon.original(origin);
            if original == chosen {
                continue;
            }
            let share = weight / total;
            match alts.iter().position(|a| a.original == original) {
                Some(i) => alts[i].share += share,
                None if alts.len() < p.alternatives => alts.push(Alternative {
                    original: original.to_string(),
                    share,
                    confidence: 0.0,
                }),
                None => {}
            }
        }
        for a in alts.iter_mut() {
            let weights = p.alternative_confidence;
            a.confidence = edit_confidence(weights, p.edit_confidence_short, a.share, words);
        }
    }

    /// Without the lattice ([`Params::joint`] off): every span whose best
    /// original reads better than the observed words in their own context
    /// (pre-check gain above 0) is chosen, and of overlapping ones the
    /// larger gain wins.
    pub(super) fn choose_locally(
        &self,
        arcs: &[Arc],
        scratch: &mut Scratch,
        analysis: &mut Analysis,
    ) {
        let slope = self.params.confidence_slope;
        let Scratch { scored, covered, .. } = scratch;
        // (gain, arc index, 0): `scored`'s layout, reused.
        scored.clear();
        scored
            .extend(arcs.iter().enumerate().map(|(k, a)| (analysis.spans[a.span_ix].gain, k, 0.0)));
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        covered.clear();
        covered.resize(arcs.iter().map(|a| a.last).max().unwrap_or(0), false);
        for &(gain, k, _) in scored.iter() {
            let a = &arcs[k];
            let span = &mut analysis.spans[a.span_ix];
            if gain > 0.0 && !covered[a.first..a.last].contains(&true) {
                covered[a.first..a.last].fill(true);
                span.chosen = true;
                span.confidence = logistic(slope * gain);
            } else {
                span.confidence = logistic(slope * gain.min(0.0));
            }
        }
    }

    /// [`emit_in`](Decoder::emit_in) of `ids` from a history ending in
    /// `w1`, their first word's score being `first` already: the same sum
    /// in the same order. A single word's next context is left unresolved
    /// (None), for when (and if) its state is expanded.
    fn emit_after_first(
        &self,
        first: f32,
        w1: WordId,
        ids: &[WordId],
        cache: Cache<'_>,
    ) -> (f32, WordId, WordId, Option<crate::lm::Context>) {
        let mut s = 0.0;
        s += first;
        let [w, rest @ ..] = ids else { unreachable!("a candidate has ids") };
        if rest.is_empty() {
            return (s, w1, *w, None);
        }
        let (mut w2, mut w1, mut ctx) = (w1, *w, self.context(w1, *w));
        for &w in rest {
            let (l, next) = self.step(&ctx, w1, w);
            s += mix(cache, w, l.log10);
            (w2, w1, ctx) = (w1, w, next);
        }
        (s, w2, w1, Some(ctx))
    }

    /// Scores `ids` from the state (w2, w1), whose context `ctx` is already
    /// resolved; returns the score, the new state and its context.
    fn emit_in(
        &self,
        ctx: &crate::lm::Context,
        mut w2: WordId,
        mut w1: WordId,
        ids: &[WordId],
        cache: Cache<'_>,
    ) -> (f32, WordId, WordId, crate::lm::Context) {
        let mut ctx = *ctx;
        let mut s = 0.0;
        for &w in ids {
            let (l, next) = self.step(&ctx, w1, w);
            s += mix(cache, w, l.log10);
            (w2, w1, ctx) = (w1, w, next);
        }
        (s, w2, w1, ctx)
    }

    /// [`emit_in`](Decoder::emit_in), keeping in `shared` what the states
    /// ending in `w1` share (at order 3): the same result, the same sum.
    fn emit_fill(
        &self,
        ctx: &crate::lm::Context,
        w2: WordId,
        w1: WordId,
        ids: &[WordId],
        cache: Cache<'_>,
        shared: &mut Shared,
    ) -> (f32, WordId, WordId, crate::lm::Context) {
        let [first, rest @ ..] = ids else {
            shared.emits.push(None);
            return self.emit_in(ctx, w2, w1, ids, cache);
        };
        let step = self.lm.next_step(ctx, *first);
        let l = self.lm.lookup_from(ctx, *first, &step);
        let mut s = 0.0;
        s += mix(cache, *first, l.log10);
        let start = shared.rest.len() as u32;
        let (mut w2, mut w1, mut ctx) = (w1, *first, step.next);
        for &w in rest {
            let (l, next) = self.lm.lookup_next(&ctx, w);
            let m = mix(cache, w, l.log10);
            shared.rest.push(m);
            s += m;
            (w2, w1, ctx) = (w1, w, next);
        }
        let end = shared.rest.len() as u32;
        shared.emits.push(Some(SharedEmit { step, rest: (start, end), w2, w1, ctx }));
        (s, w2, w1, ctx)
    }

    /// [`emit_in`](Decoder::emit_in) of `ids` from a state whose context
    /// is `ctx`, with what [`emit_fill`](Decoder::emit_fill) kept for a
    /// state ending in the same word: the same result, the same sum.
    #[inline]
    fn emit_shared(
        &self,
        ctx: &crate::lm::Context,
        ids: &[WordId],
        cache: Cache<'_>,
        se: &SharedEmit,
        rest: &[f32],
    ) -> (f32, WordId, WordId, crate::lm::Context) {
        let l = self.lm.lookup_from(ctx, ids[0], &se.step);
        let mut s = 0.0;
        s += mix(cache, ids[0], l.log10);
        for &m in &rest[se.rest.0 as usize..se.rest.1 as usize] {
            s += m;
        }
        (s, se.w2, se.w1, se.ctx)
    }

    /// Looks `w` up in `ctx` (the context of a history ending in `w1`) and
    /// resolves the next context, sharing the bigram probe (at order 3).
    /// Always inlined: as a call, its prologue and epilogue cost `score`
    /// more than 1% of its instructions (callgrind).
    #[inline(always)]
    pub(super) fn step(
        &self,
        ctx: &crate::lm::Context,
        w1: WordId,
        w: WordId,
    ) -> (crate::lm::Lookup, crate::lm::Context) {
        if self.params.lm_order >= 3 {
            self.lm.lookup_next(ctx, w)
        } else {
            (self.lm.lookup_in(ctx, w), self.context(w1, w))
        }
    }
}

/// Adds a state, merging it with one of the same history (the better wins).
fn relax(states: &mut Vec<State>, s: State) {
    if let Some(old) =
        states.iter_mut().find(|o| o.w2 == s.w2 && o.w1 == s.w1 && o.changed == s.changed)
    {
        if s.score > old.score {
            *old = s;
        }
    } else {
        states.push(s);
    }
}

/// Keeps the `beam` best states.
fn prune(states: &mut Vec<State>, beam: usize) {
    if states.len() > beam {
        states.sort_by(|a, b| b.score.total_cmp(&a.score));
        states.truncate(beam);
    }
}
