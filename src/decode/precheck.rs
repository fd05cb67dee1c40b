//! The pre-check: each lexicon match's candidates scored in the words
//! around it, so that only spans one of whose originals could read better
//! than the words as written enter the lattice (or, for the detector, are
//! decided on this evidence alone). The observed words' n-grams are looked
//! up once per sentence and shared by neighbouring spans.

use super::*;

impl Decoder {
    /// Scores `ids` after the context (w2, w1), then the `after` words;
    /// `ids` with the document cache mixed in. `end` keeps the last word's
    /// bigram for the next window with the same `after`
    /// ([`rest_of_window`](Decoder::rest_of_window)).
    pub(super) fn window(
        &self,
        w2: WordId,
        w1: WordId,
        ids: &[WordId],
        after: &[WordId],
        cache: Cache<'_>,
        end: &mut BigramMemo,
    ) -> f32 {
        let (first, rest) = match ids.split_first() {
            Some((&first, rest)) => (first, rest),
            None => return self.rest_of_window(self.context(w2, w1), w1, &[], after, cache, end),
        };
        let (l, next) = self.step(&self.context(w2, w1), w1, first);
        mix(cache, first, l.log10) + self.rest_of_window(next, first, rest, after, cache, end)
    }

    /// Like [`window`](Decoder::window) after (w2, w1), with the first of
    /// `ids` already scored (`first`, its log10 in that context, cache
    /// included; `probe` may hold the bigram (w1, first word) that scoring
    /// it probed).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn window_rest(
        &self,
        first: f32,
        w1: WordId,
        ids: &[WordId],
        after: &[WordId],
        cache: Cache<'_>,
        probe: &BigramMemo,
        end: &mut BigramMemo,
    ) -> f32 {
        let ctx = if self.params.lm_order >= 3 {
            self.lm.context_memo(w1, ids[0], probe)
        } else {
            self.context(w1, ids[0])
        };
        first + self.rest_of_window(ctx, ids[0], &ids[1..], after, cache, end)
    }

    /// The rest of a window from the resolved context `ctx` of a history
    /// ending in `w1`: `ids` with the cache mixed in, then `after`. The
    /// last word is looked up through `end`: the windows of a span's
    /// candidates end in the same two words, and where the trigram is
    /// missing (mostly, after a candidate) each would probe the same
    /// bigram of those two words.
    fn rest_of_window(
        &self,
        mut ctx: crate::lm::Context,
        mut w1: WordId,
        ids: &[WordId],
        after: &[WordId],
        cache: Cache<'_>,
        end: &mut BigramMemo,
    ) -> f32 {
        let mut s = 0.0;
        for &w in ids {
            let (l, next) = self.step(&ctx, w1, w);
            s += mix(cache, w, l.log10);
            (w1, ctx) = (w, next);
        }
        for (k, &w) in after.iter().enumerate() {
            if k + 1 == after.len() {
                // The last word's next context is never used.
                return s + self.lm.lookup_in_memo(&ctx, w, end).log10;
            }
            let (l, next) = self.step(&ctx, w1, w);
            s += l.log10;
            (w1, ctx) = (w, next);
        }
        s
    }

    /// The context before position `p` of the sentence `ids` (see
    /// [`Observed`]), as [`context`](Decoder::context) resolves it.
    #[inline]
    fn observed_context(&self, obs: &mut Observed, ids: &[WordId], p: usize) -> crate::lm::Context {
        match obs.ctx[p] {
            Some(c) => c,
            None => self.resolve_observed_context(obs, ids, p),
        }
    }

    /// [`observed_context`](Decoder::observed_context) the first time.
    #[inline(never)]
    fn resolve_observed_context(
        &self,
        obs: &mut Observed,
        ids: &[WordId],
        p: usize,
    ) -> crate::lm::Context {
        let (w2, w1) = ctx2(&ids[..p], self.lm.bos());
        let c = self.context(w2, w1);
        obs.ctx[p] = Some(c);
        c
    }

    /// The lookup of the word at position `p` of the sentence `ids` (`</s>`
    /// at `ids.len()`) after the words before it, as [`step`](Decoder::step)
    /// makes it; resolves the context after it as well.
    #[inline]
    pub(super) fn observed_lookup(
        &self,
        obs: &mut Observed,
        ids: &[WordId],
        p: usize,
    ) -> crate::lm::Lookup {
        match obs.look[p] {
            Some(l) => l,
            None => self.resolve_observed_lookup(obs, ids, p),
        }
    }

    /// [`observed_lookup`](Decoder::observed_lookup) the first time.
    #[inline(never)]
    fn resolve_observed_lookup(
        &self,
        obs: &mut Observed,
        ids: &[WordId],
        p: usize,
    ) -> crate::lm::Lookup {
        let ctx = self.observed_context(obs, ids, p);
        let w1 = if p > 0 { ids[p - 1] } else { self.lm.bos() };
        let w = ids.get(p).copied().unwrap_or(self.lm.eos());
        let (l, next) = self.step(&ctx, w1, w);
        obs.look[p] = Some(l);
        obs.ctx[p + 1] = Some(next);
        l
    }

    /// [`window`](Decoder::window) over the sentence's own words: the `n`
    /// ids from position `p` with `cache` mixed in, then the `n_after`
    /// after them, summed in the same order.
    pub(super) fn observed_window(
        &self,
        obs: &mut Observed,
        ids: &[WordId],
        p: usize,
        n: usize,
        n_after: usize,
        cache: Cache<'_>,
    ) -> f32 {
        let first = mix(cache, ids[p], self.observed_lookup(obs, ids, p).log10);
        let mut s = 0.0;
        for q in p + 1..p + n {
            s += mix(cache, ids[q], self.observed_lookup(obs, ids, q).log10);
        }
        for q in p + n..p + n + n_after - 1 {
            s += self.observed_lookup(obs, ids, q).log10;
        }
        first + (s + self.observed_lookup(obs, ids, p + n + n_after - 1).log10)
    }

    /// Local pre-check: each span's candidates scored in the observed
    /// context; keeps spans whose best candidate comes close to the observed
    /// words, with their best few candidates, appended to `out`.
    pub(super) fn precheck<'d>(
        &'d self,
        sentence: &Sentence,
        doc: DocView<'_>,
        arcs: &[usize],
        scratch: &mut Scratch,
        analysis: &mut Analysis,
        out: &mut Arcs<'d>,
    ) {
        let DocView { tokens, matches, cache, memo, embed, consts } = doc;
        let p = &self.params;
        let units = &sentence.units;
        let base = units.first().map_or(0, |u| u.token);
        let Scratch {
            unit_index,
            scored,
            embed_ctx,
            embed_bonus,
            observed: obs,
            cands,
            probes,
            ..
        } = scratch;
        let ids = &sentence.ids;
        obs.reset(ids.len());
        unit_index.clear();
        unit_index.resize(units.last().map_or(0, |u| u.token + 1 - base), usize::MAX);
        for (k, u) in units.iter().enumerate() {
            unit_index[u.token - base] = k;
        }
        let unit_of =
            |ti: usize| unit_index.get(ti.wrapping_sub(base)).copied().filter(|&k| k != usize::MAX);
        let bos = self.lm.bos();
        let mut more = Vec::new();
        let mut merged = Vec::new();
        // A second pass reads the first pass's scores where it can.
        let mut memo = memo.map(|m| m.borrow_mut());
        // Whether the sentence's embedding context is ready (None: not
        // computed yet).
        let mut embed_ready: Option<bool> = None;
        let PassConstants { channel_base, room } = consts;
        // The part of every span's embedding context that the sentence's
        // spans share (None: not computed yet).
        let mut embed_shared: Option<crate::embed::Sum> = None;
        // Starts loading the n-grams the fast accept of arc `k` reads, one
        // arc ahead, so that its cache misses overlap the work on this one:
        // the lookups of the word at its position and the next one, those
        // not asked for already (arcs come in text order, and positions
        // below `warmed` were; the lookups themselves are made once, see
        // `Observed`).
        let mut warmed = 0;
        let mut warm = |k: usize| {
            let m = &matches[k];
            let (Some(first), Some(last_incl)) = (unit_of(m.first), unit_of(m.last - 1)) else {
                return;
            };
            if let [o] = *sentence.ids_of(first, last_incl + 1) {
                let at = units[first].lo;
                let (w2, w1) = sentence.before(first, bos);
                let (after, _) = sentence.after(last_incl + 1, self.lm.eos());
                if at >= warmed {
                    self.lm.prefetch(w2, w1, o);
                }
                if at + 1 >= warmed {
                    self.lm.prefetch(w1, o, after[0]);
                }
                warmed = warmed.max(at + 2);
            }
        };
        if let Some(&k) = arcs.first() {
            warm(k);
        }
        for (ix, &k) in arcs.iter().enumerate() {
            if let Some(&next) = arcs.get(ix + 1) {
                warm(next);
            }
            let m = &matches[k];
            let (Some(first), Some(last_incl)) = (unit_of(m.first), unit_of(m.last - 1)) else {
                continue;
            };
            let last = last_incl + 1;
            let w1 = sentence.before(first, bos).1;
            let (after_buf, n_after) = sentence.after(last, self.lm.eos());
            let after = &after_buf[..n_after];
            let observed = sentence.ids_of(first, last);
            // Where the observed words start in the sentence's ids.
            let at = units[first].lo;
            // The left context, resolved once for the observed words and
            // every candidate.
            let left = self.observed_context(obs, ids, at);
            // A span the memo's pass fast-accepted is checked afresh by a
            // pass that accepts less (it is memoized again).
            let memoized = memo.as_ref().and_then(|mm| {
                let i = mm.get(k)?;
                let stricter =
                    p.fast_accept_order == 0 || p.fast_accept_order > mm.fast_accept_order;
                (!(stricter && mm.kept[i].is_nan())).then_some(i)
            });
            let kept = if let Some(i) = memoized {
                match memo.as_ref().map(|mm| mm.kept[i]) {
                    Some(kept) if !kept.is_nan() => kept,
                    _ => continue,
                }
            } else if let [o] = *observed {
                // Fast accept: a word the model has seen in this very n-gram
                // on both sides reads as written; spinners' swaps rarely do.
                let l = self.observed_lookup(obs, ids, at);
                let r = self.observed_lookup(obs, ids, at + 1);
                let order = p.fast_accept_order;
                if order > 0 && l.order >= order && r.order >= order {
                    if let Some(mm) = memo.as_mut() {
                        mm.push(k, f32::NAN);
                    }
                    continue;
                }
                // The window's sum, in the window's order.
                let mut s = mix(cache.map(|c| (c, true)), o, l.log10) + r.log10;
                if n_after == 2 {
                    s += self.observed_lookup(obs, ids, at + 2).log10;
                }
                s
            } else {
                self.observed_window(
                    obs,
                    ids,
                    at,
                    observed.len(),
                    n_after,
                    cache.map(|c| (c, true)),
                )
            };
            let cand_cache = cache.map(|c| (c, false));
            // How many of the candidates have their scores in the memo.
            let mut stored = 0;
            if let Some(i) = memoized {
                let mm = memo.as_ref().expect("memoized");
                cands.clear();
                cands.extend_from_slice(&mm.cands[mm.range(i)]);
                stored = cands.len();
                // A second pass that weighs more candidates than the first
                // reads the rest from the lexicon (its lists are ranked, so
                // the first ones are the memo's).
                if stored == mm.limit && p.precheck_candidates > stored {
                    self.lexicon.raw_candidates_into(
                        m,
                        p.precheck_candidates,
                        &mut merged,
                        &mut more,
                    );
                    cands.extend_from_slice(more.get(stored..).unwrap_or_default());
                }
            } else {
                self.lexicon.raw_candidates_into(m, p.precheck_candidates, &mut merged, cands);
                cands.truncate(p.precheck_candidates);
            }
            // The embedding term of each candidate: how much better it fits
            // the span's context than the observed words do (none without
            // the embedding: `bonus` reads 0). Not memoized: a second pass
            // rebuilds the context from the first pass's restoration.
            embed_bonus.clear();
            if let Some((e, k)) = embed {
                // The context: the document without this sentence (computed
                // for the sentence's first span that needs it), and the
                // sentence's own words other than the span's.
                let index = self.embed_index();
                let ready = if p.embed_sentence == 0 {
                    *embed_ready.get_or_insert_with(|| {
                        index.context_into(&e.context_sum(k), p.embed_center, embed_ctx)
                    })
                } else {
                    // With the sentence's other words: one context per span.
                    let shared = embed_shared
                        .get_or_insert_with(|| e.sentence_context_sum(k, p.embed_sentence));
                    let sum = e.span_context_sum(shared, k, observed, p.embed_sentence, index);
                    index.context_into(&sum, p.embed_center, embed_ctx)
                };
                if ready {
                    let obs = self.embed_similarity(embed_ctx, observed);
                    embed_bonus.extend(cands.iter().map(|c| {
                        let s = self.embed_similarity(embed_ctx, self.cand_ids(c));
                        p.embed_weight * (s - obs)
                    }));
                    // The originals of a phrase on our hand-written list are
                    // one meaning in several wordings ("tell him" and "told
                    // him" for "let him know"): which one fits is grammar,
                    // for the language model, not topic ("told" fits news
                    // better than "tell" anywhere). They share the best
                    // fit: the topic still weighs the phrase against the
                    // words as written, but does not choose among them.
                    if cands.len() > 1 && cands.iter().all(|c| c.sources == Sources::HAND) {
                        let best = embed_bonus.iter().fold(f32::NEG_INFINITY, |m, &b| m.max(b));
                        embed_bonus.fill(best);
                    }
                }
            }
            let embed_bonus = &*embed_bonus;
            let bonus = |ci: usize| embed_bonus.get(ci).copied().unwrap_or(0.0);

            // Stage 1 of a candidate: its first word in the left context
            // (NaN if the model cannot score it).
            // The bigram (w1, first word) it probes, if it does, is kept
            // in `probe` for the candidate's window.
            // A candidate the model reads as the observed words themselves
            // (a spelling the model maps to the same word: "medallist" and
            // "medalist") would be a respelling, not a restoration; the
            // document cache would even count the observed word for it.
            let stage1 = |c: &RawCandidate, probe: &mut BigramMemo| {
                let ids = self.cand_ids(c);
                // (First ids first: a slice comparison is a `memcmp` call.)
                let respelt = ids.first() == observed.first() && ids == observed;
                if ids.is_empty() || ids.iter().any(|&w| !self.lm.is_known(w)) || respelt {
                    f32::NAN
                } else {
                    mix(cand_cache, ids[0], self.lm.lookup_in_memo(&left, ids[0], probe).log10)
                }
            };
            scored.clear();
            // Where this span's candidates sit in the memo's arrays. A span
            // checked afresh starts its entry: the memo records its
            // candidates' stage-1 scores, and each gets a window slot.
            let fresh = memoized.is_none();
            let entry = match memoized {
                Some(i) => Some(memo.as_ref().expect("memoized").range(i).start),
                None => memo.as_mut().map(|mm| {
                    mm.push(k, kept);
                    mm.cands.extend_from_slice(cands);
                    let n = mm.cands.len();
                    mm.window.resize(n, f32::NAN);
                    mm.first.len()
                }),
            };
            // Candidates come ranked (P(spun | original) · P(original)
            // for the shipped lexicon): score the first few in context.
            // Stage 1: the first word in the left context, plus the
            // channel (from the memo where it has it); stage 2: the best
            // few with the whole window.
            for c in &cands[stored..] {
                if let Some(&w) = self.cand_ids(c).first() {
                    self.lm.prefetch_in(&left, w);
                }
            }
            probes.clear();
            probes.resize(cands.len(), BigramMemo::default());
            for (ci, c) in cands.iter().enumerate() {
                let first = match (entry, memo.as_mut()) {
                    (Some(base), Some(mm)) if ci < stored => mm.first[base + ci],
                    (_, mm) => {
                        let first = stage1(c, &mut probes[ci]);
                        if let (true, Some(mm)) = (fresh, mm) {
                            mm.first.push(first);
                        }
                        first
                    }
                };
                if !first.is_nan() {
                    let fixed = self.channel_with(channel_base, c) + bonus(ci);
                    scored.push((first + fixed, ci, first));
                }
            }
            if fresh {
                stored = cands.len();
            }
            // Without the lattice, only the best candidate's gain is used.
            let windows = if p.joint {
                p.window_candidates.max(p.lattice_candidates)
            } else {
                p.window_candidates
            };
            best_first(scored, windows.max(1));
            // Every later word of a window scores at most 0 (log10), so a
            // candidate's stage-1 score bounds its window score: when even
            // the best bound falls short, stage 2 cannot change the verdict.
            match scored.first() {
                Some(&(bound, ..)) if bound - kept >= -room => {}
                _ => continue,
            }
            scored.truncate(windows);
            // Stage 2 in stage-1 order. Until some candidate's window comes
            // close enough, the next one's stage-1 score bounds every
            // window still to come: once that falls short, the span is out
            // whatever the rest would score (exact, like the check above).
            let mut close = false;
            let mut end = BigramMemo::default();
            for (score, ci, first) in scored.iter_mut() {
                if !close && *score - kept < -room {
                    break;
                }
                let c = &cands[*ci];
                let slot = entry.filter(|_| *ci < stored).map(|base| base + *ci);
                let known = slot.and_then(|j| memo.as_ref().map(|mm| mm.window[j]));
                let window = match known {
                    Some(w) if !w.is_nan() => w,
                    _ => {
                        let ids = self.cand_ids(c);
                        let probe = &probes[*ci];
                        let w =
                            self.window_rest(*first, w1, ids, after, cand_cache, probe, &mut end);
                        if let (Some(j), Some(mm)) = (slot, memo.as_mut()) {
                            mm.window[j] = w;
                        }
                        w
                    }
                };
                *score = window + self.channel_with(channel_base, c) + bonus(*ci);
                close |= *score - kept >= -room;
            }
            if !close {
                continue;
            }
            scored.sort_by(|a, b| b.0.total_cmp(&a.0));
            let Some(&(best_score, best_ix, _)) = scored.first() else { continue };
            // The gain of the observed words is measured against keeping them
            // at the prior's "unchanged" cost (the channel above is relative to it).
            let gain = best_score - kept;
            if gain < -room {
                continue;
            }
            let best = &cands[best_ix];
            let span_ix = analysis.spans.len();
            debug_assert_eq!(out.origins.len(), span_ix);
            out.origins.push(best.origin);
            analysis.spans.push(Span {
                start: m.start,
                end: m.end,
                first_token: m.first,
                last_token: m.last,
                words: (m.first..m.last).filter(|&t| tokens[t].kind == TokenKind::Word).count(),
                original: String::new(),
                sources: best.sources,
                weight: best.weight,
                gain,
                chosen: false,
                confidence: 0.0,
                share: 0.0,
                alternatives: Vec::new(),
            });
            scored.truncate(if p.joint { p.lattice_candidates } else { 0 });
            let from = out.cands.len();
            out.cands.extend(scored.iter().map(|&(_, ci, first)| {
                let c = &cands[ci];
                Prepared {
                    origin: c.origin,
                    sources: c.sources,
                    weight: c.weight,
                    ids: self.cand_ids(c),
                    channel: self.channel_with(channel_base, c) + bonus(ci),
                    first,
                }
            }));
            out.arcs.push(Arc { first, last, span_ix, cands: from..out.cands.len() });
        }
    }
}
