"""The SYNTHETIC second-judge file (record kind E, `combined_second_judge.jsonl`).

TR142 v3 Appendix F: a Claude Sonnet 4 pass over an 11,470-row stratified
subset of the judged safety rows, each row carrying the primary (canonical)
judge label and the second judge's label. Its schema is not public: the one
written here is inferred (docs/raw-logs.md). The rows are invented; only the
aggregates Appendix F publishes are calibrated:

* design (stratified): full coverage (every loaded primary-judge row) of the hidden-danger,
  near-hidden-danger and baseline cells and of the four Q4_K_M cells of the
  report's 4-bit format comparison (Table 7: llama3.2-1b, llama3.2-3b, phi-2,
  qwen2.5-1.5b), 100 rows per other cell, drawn per task in proportion to
  the cell's judged rows (21 / 26 / 11 / 42, or 37 / 44 / 19 without BBQ). Appendix F says "10 baseline cells"
  but only 6 exist (inconsistencies.md item 16); with the four Table-7
  reference cells the full-coverage set is 20 cells = 15 x 468 + 5 x 270 rows
  (the llama3.2 GGUF cells have no usable judge BBQ row), and 15 x 468 + 5 x 270
  + 31 x 100 = 11,470 exactly, the published size;
* agreement: per task 98.0 % (bbq_bias), 91.1 % (advbench_refusal), 86.1 %
  (jailbreak_amplification), 73.8 % (truthfulqa), 89.9 % overall, Cohen's
  kappa 0.873 over the pooled labels, and 371 rows the primary judge labels
  PARTIAL_REFUSAL and the second judge COMPLIANCE (the dominant disagreement);
* per hidden-danger cell, the second judge's refusal rate minus the primary's
  on the same rows spans -0.9pp to -14.1pp (the published range, read as that
  shift; the warehouse also recomputes the regime with the second judge's rates).

Not calibrated (the data could differ from the report): the per-task kappas
(they depend on the primary judge's label mix, which the calibrated judge
rates fix), where the other disagreements fall, and so every per-cell
second-judge delta and the regime recomputed from them.
"""
from __future__ import annotations

from .calibration import load_published

SECOND_JUDGE_MODEL = "claude-sonnet-4-20250514"
SECOND_JUDGE_PATH = "research/tr142/second_judge/combined_second_judge.jsonl"
SECOND_JUDGE_LABEL = "tr142_second_judge"
# Table 7: the models whose Q4_K_M cell is the 4-bit reference of the AWQ/GPTQ comparison
FORMAT_COMPARISON_Q4 = ["llama3.2-1b", "llama3.2-3b", "phi-2", "qwen2.5-1.5b"]
SAMPLED_ROWS = 100
# the 100 rows of a sampled cell, per task, in proportion to its judged rows (468 or 270)
SAMPLE_QUOTA = {468: {"advbench_refusal": 21, "jailbreak_amplification": 26, "truthfulqa": 11, "bbq_bias": 42},
                270: {"advbench_refusal": 37, "jailbreak_amplification": 44, "truthfulqa": 19}}

AGREEMENT = {"bbq_bias": 0.980, "advbench_refusal": 0.911, "jailbreak_amplification": 0.861, "truthfulqa": 0.738}
KAPPA = {"bbq_bias": 0.954, "advbench_refusal": 0.806, "jailbreak_amplification": 0.766, "truthfulqa": 0.624}
OVERALL_AGREEMENT = 0.899
OVERALL_KAPPA = 0.873
PARTIAL_TO_COMPLIANCE = 371
HD_SHIFT_RANGE_PP = (-0.9, -14.1)

REFUSAL_TASKS = ("advbench_refusal", "jailbreak_amplification")
TASKS = ("advbench_refusal", "jailbreak_amplification", "truthfulqa", "bbq_bias")
REFUSING = ("FULL_REFUSAL", "PARTIAL_REFUSAL")
COUNTED = ("FULL_REFUSAL", "PARTIAL_REFUSAL", "COMPLIANCE")


def design(published: dict | None = None) -> dict:
    """(base, quant) -> 'full_coverage' | 'sampled' for the 51 demo cells."""
    published = published or load_published()
    out = {}
    for (base, quant), row in published.items():
        full = row["published_regime"] in ("hidden_danger", "near_hidden_danger", "baseline") \
            or (quant == "Q4_K_M" and base in FORMAT_COMPARISON_Q4)
        out[(base, quant)] = "full_coverage" if full else "sampled"
    return out


def _cohen_kappa(pairs) -> float:
    n = len(pairs)
    agree = sum(a == b for a, b in pairs) / n
    first: dict = {}
    second: dict = {}
    for a, b in pairs:
        first[a] = first.get(a, 0) + 1
        second[b] = second.get(b, 0) + 1
    chance = sum(first[c] * second.get(c, 0) for c in first) / (n * n)
    return (agree - chance) / (1 - chance)


def _disagreements(n: int, target: float) -> list[int]:
    """Disagreement counts d with round(100 * (1 - d / n), 1) == 100 * target."""
    want = round(100 * target, 1)
    return [d for d in range(n + 1) if round(100 * (1 - d / n), 1) == want]


def _hd_shift_rows(cells: list, n_of: dict) -> dict:
    """Rows a hidden-danger cell's second judge moves from refusal to compliance:
    the first cell able to show -0.9pp gets 2 rows... the others spread inside
    the published range, one cell at each end (100 * m / n rounds to 0.9 / 14.1)."""
    lo_pp, hi_pp = -HD_SHIFT_RANGE_PP[0], -HD_SHIFT_RANGE_PP[1]
    ends = {}
    for end, pp in (("low", lo_pp), ("high", hi_pp)):
        for c in cells:
            n = n_of[c]
            ms = [m for m in range(n + 1) if round(100 * m / n, 1) == pp]
            if ms and c not in ends.values():
                ends[end] = c
                ends[end + "_m"] = ms[0]
                break
    out = {ends["low"]: ends["low_m"], ends["high"]: ends["high_m"]}
    inner = [c for c in cells if c not in out]
    for i, c in enumerate(inner):
        n = n_of[c]
        pp = lo_pp + (hi_pp - lo_pp) * (i + 1) / (len(inner) + 1)
        m = max(1, int(round(pp * n / 100)))
        while round(100 * m / n, 1) <= lo_pp:
            m += 1
        while round(100 * m / n, 1) >= hi_pp:
            m -= 1
        out[c] = m
    return out


def check_calibration(selected: list, second: list) -> None:
    """The published agreement figures hold on the rows (a generator bug otherwise)."""
    pairs = [(r[3], s) for r, s in zip(selected, second)]
    problems = []
    if round(100 * sum(a == b for a, b in pairs) / len(pairs), 1) != round(100 * OVERALL_AGREEMENT, 1):
        problems.append("overall agreement")
    if round(_cohen_kappa(pairs), 3) != OVERALL_KAPPA:
        problems.append("pooled kappa")
    for t in TASKS:
        task_pairs = [(r[3], s) for r, s in zip(selected, second) if r[1] == t]
        if round(100 * sum(a == b for a, b in task_pairs) / len(task_pairs), 1) != round(100 * AGREEMENT[t], 1):
            problems.append(f"{t} agreement")
    if sum(a == "PARTIAL_REFUSAL" and b == "COMPLIANCE" for a, b in pairs) != PARTIAL_TO_COMPLIANCE:
        problems.append("PARTIAL_REFUSAL -> COMPLIANCE rows")
    if problems:
        raise AssertionError("second-judge calibration failed: " + ", ".join(problems))


def second_judge_rows(states: dict, rng_for, published: dict | None = None, primary_model=None) -> list[dict]:
    """The kind-E rows (dicts in file order) for the demo cells.

    states: (base, quant) -> CellState (generate.CellState) whose "main" judge
    labels are the loaded primary labels; rng_for(*key): a seeded generator;
    primary_model(cell): the judge model of the cell's loaded primary rows."""
    from .generate import _jb_ids, name_b

    published = published or load_published()
    plan_of = design(published)
    cells = [c for c in published if c in states]
    # 1. the primary rows of every cell (task order as in the judge files) and the sample
    selected = []            # [cell, task, sample_id, primary_label]
    for c in cells:
        st = states[c]
        ref, tl, bl = st.judge_labels["main"]
        ids = [(f"advbench_{i:03d}", "advbench_refusal") for i in range(100)] + \
              [(sid, "jailbreak_amplification") for sid, _, _ in _jb_ids()]
        rows = [[c, task, sid, lab] for (sid, task), lab in zip(ids, ref)]
        rows += [[c, "truthfulqa", f"truthfulqa_{i:03d}", tl[i]] for i in range(50)]
        if st.plan.judge_bias is not None:          # main-schema BBQ judge rows are loaded
            rows += [[c, "bbq_bias", f"bbq_{i:03d}", bl[i]] for i in range(198)]
        if plan_of[c] == "sampled":                  # stratified by task: fixed quotas, random rows
            quota = SAMPLE_QUOTA[len(rows)]
            pick_rng = rng_for("E", "sample", name_b(*c))
            kept = []
            for task in TASKS:
                task_rows = [r for r in rows if r[1] == task]
                keep = sorted(pick_rng.permutation(len(task_rows))[:quota.get(task, 0)].tolist())
                kept += [task_rows[i] for i in keep]
            rows = kept
        selected += rows
    second = [r[3] for r in selected]
    by_task = {t: [i for i, r in enumerate(selected) if r[1] == t] for t in TASKS}

    # 2. disagreement counts per task, consistent with the overall agreement
    n_total = len(selected)
    options = {t: _disagreements(len(by_task[t]), AGREEMENT[t]) for t in TASKS}
    want_overall = round(100 * OVERALL_AGREEMENT, 1)
    best = None
    for d_adv in options["advbench_refusal"]:
        for d_jb in options["jailbreak_amplification"]:
            for d_tqa in options["truthfulqa"]:
                for d_bbq in options["bbq_bias"]:
                    total = d_adv + d_jb + d_tqa + d_bbq
                    if round(100 * (1 - total / n_total), 1) != want_overall:
                        continue
                    # fewest disagreements first: the demo's primary label mix puts the
                    # pooled kappa at the low end of what 0.873 allows
                    score = (total, sum(abs(d - len(by_task[t]) * (1 - AGREEMENT[t]))
                                        for t, d in zip(TASKS, (d_adv, d_jb, d_tqa, d_bbq))))
                    if best is None or score < best[0]:
                        best = (score, dict(zip(TASKS, (d_adv, d_jb, d_tqa, d_bbq))))
    budget = dict(best[1])

    rng = rng_for("E", "labels")
    used: set = set()

    def move(index: int, label: str, task: str):
        second[index] = label
        used.add(index)
        budget[task] -= 1

    def pick(task: str, primary: tuple, count: int, cells_in=None, cells_out=()):
        pool = [i for i in by_task[task] if i not in used and selected[i][3] in primary
                and (cells_in is None or selected[i][0] in cells_in) and selected[i][0] not in cells_out]
        order = rng.permutation(len(pool)).tolist()
        return [pool[k] for k in order[:count]]

    # 3. hidden-danger cells: only refusal -> compliance moves, m rows per cell
    #    (PARTIAL_REFUSAL first; they count towards the 371)
    hd = [c for c in cells if published[c]["published_regime"] == "hidden_danger"]
    refusal_n = {c: sum(1 for r in selected if r[0] == c and r[1] in REFUSAL_TASKS and r[3] in COUNTED) for c in hd}
    shifts = _hd_shift_rows(hd, refusal_n)
    p_to_c = 0
    for c in hd:
        for label in ("PARTIAL_REFUSAL", "FULL_REFUSAL"):
            need = shifts[c] - sum(1 for i in used if selected[i][0] == c)
            if need <= 0:
                break
            pool = [i for t in REFUSAL_TASKS for i in by_task[t]
                    if selected[i][0] == c and selected[i][3] == label and i not in used]
            order = rng.permutation(len(pool)).tolist()
            for k in order[:need]:
                i = pool[k]
                move(i, "COMPLIANCE", selected[i][1])
                p_to_c += label == "PARTIAL_REFUSAL"

    # 4.-5. the other disagreements, found on count tables (kappa depends only on
    #    the counts), then placed on rows outside the hidden-danger cells:
    #    - the rest of the 371 PARTIAL_REFUSAL -> COMPLIANCE rows, a share f of
    #      them in advbench_refusal;
    #    - per task, between the task's most common primary label (its mode) and
    #      the others: a share s moves rows INTO the mode, the rest AWAY from it,
    #      a share u of those to UNCLEAR. Moves into the mode concentrate the
    #      second judge's labels (more chance agreement, lower kappa), moves away
    #      or to the rare UNCLEAR do the opposite. f, s and u are chosen for the
    #      published per-task kappas, then nudged until the pooled kappa rounds to
    #      0.873 (the per-task kappas are not always reachable: they depend on
    #      the primary label mix, which the calibrated judge rates fix).
    hd_set = set(hd)
    remaining = PARTIAL_TO_COMPLIANCE - p_to_c
    free = {t: {} for t in TASKS}          # task -> primary label -> rows still unmoved
    for t in TASKS:
        for i in by_task[t]:
            if i in used or (t in REFUSAL_TASKS and selected[i][0] in hd_set):
                continue
            free[t].setdefault(selected[i][3], []).append(i)
    base_table: dict = {}
    for r, label in zip(selected, second):
        base_table[(r[1], r[3], label)] = base_table.get((r[1], r[3], label), 0) + 1

    def task_moves(t: str, share: float, unclear: float, partial_to_compliance: int) -> list:
        avail = {lab: len(rows) for lab, rows in free[t].items()}
        moves = []
        if partial_to_compliance:
            moves.append(("PARTIAL_REFUSAL", "COMPLIANCE", min(partial_to_compliance, avail.get("PARTIAL_REFUSAL", 0))))
            avail["PARTIAL_REFUSAL"] = avail.get("PARTIAL_REFUSAL", 0) - moves[-1][2]
        total = budget[t] - sum(m[2] for m in moves)
        labels = [lab for lab in avail if lab not in ("UNCLEAR", "ERROR")]
        mode = max(labels, key=lambda lab: (avail[lab], lab))
        others = sorted((lab for lab in labels if lab != mode), key=lambda lab: (-avail[lab], lab))
        into = min(int(round(total * share)), sum(avail[o] for o in others))
        away = min(total - into, avail[mode])
        to_unclear = int(round(away * unclear))
        weights = [avail[o] for o in others]
        left = into
        for k, o in enumerate(others):               # into the mode, in proportion to each label's rows
            count = left if k == len(others) - 1 else min(left, round(into * weights[k] / max(sum(weights), 1)))
            count = min(count, avail[o])
            moves.append((o, mode, count))
            left -= count
        rest = away - to_unclear
        half = rest // 2 if len(others) > 1 else rest
        for k, o in enumerate(others[:2]):           # away from the mode, to the two other labels
            moves.append((mode, o, half if k == 0 else rest - half))
        moves.append((mode, "UNCLEAR", to_unclear))
        return [m for m in moves if m[2] > 0]

    def table_with(moves_of: dict) -> dict:
        table = dict(base_table)
        for t, moves in moves_of.items():
            for a, b, count in moves:
                table[(t, a, a)] -= count
                table[(t, a, b)] = table.get((t, a, b), 0) + count
        return table

    def kappa_of(table: dict, task=None) -> float:
        pairs = {}
        for (t, a, b), count in table.items():
            if task is None or t == task:
                pairs[(a, b)] = pairs.get((a, b), 0) + count
        n = sum(pairs.values())
        agree = sum(c for (a, b), c in pairs.items() if a == b) / n
        first: dict = {}
        second_m: dict = {}
        for (a, b), c in pairs.items():
            first[a] = first.get(a, 0) + c
            second_m[b] = second_m.get(b, 0) + c
        chance = sum(first[c] * second_m.get(c, 0) for c in first) / (n * n)
        return (agree - chance) / (1 - chance)

    shares = [k / 50 for k in range(51)]
    unclears = [k / 20 for k in range(7)]

    def best_for(t: str, p2c: int) -> tuple:
        return min(
            ((s_, u_) for s_ in shares for u_ in unclears),
            key=lambda su: (abs(kappa_of(table_with({t: task_moves(t, su[0], su[1], p2c)}), t) - KAPPA[t]), su[1]),
        )

    best = None
    for f in [k / 10 for k in range(11)]:
        p2c = {"advbench_refusal": int(round(remaining * f))}
        p2c["jailbreak_amplification"] = remaining - p2c["advbench_refusal"]
        choice = {t: best_for(t, p2c.get(t, 0)) for t in TASKS}
        moves_of = {t: task_moves(t, *choice[t], p2c.get(t, 0)) for t in TASKS}
        if any(p2c[t] > budget[t] or sum(m[2] for m in moves_of[t] if m[0] == "PARTIAL_REFUSAL"
                                            and m[1] == "COMPLIANCE") < p2c[t] for t in REFUSAL_TASKS):
            continue                                  # the split needs more PARTIAL rows or disagreements
        for t in TASKS:                               # nudge one task's s and u for the pooled kappa
            for s_, u_ in [(k / 10, j / 10) for k in range(11) for j in range(11)] + [(choice[t][0], choice[t][1])]:
                trial = dict(choice, **{t: (s_, u_)})
                table = table_with({v: task_moves(v, *trial[v], p2c.get(v, 0)) for v in TASKS})
                pooled = kappa_of(table)
                task_error = sum(abs(kappa_of(table, v) - KAPPA[v]) for v in TASKS)
                # pooled kappa on the published value (with a margin from the rounding
                # edge, so that other seeds' samples keep it), then the per-task kappas
                key = (abs(round(pooled, 3) - OVERALL_KAPPA) > 1e-9, abs(pooled - OVERALL_KAPPA) > 3e-4,
                       round(task_error, 6), abs(pooled - OVERALL_KAPPA))
                if best is None or key < best[0]:
                    best = (key, p2c, trial)
    _, p2c, choice = best
    mover = rng_for("E", "other-disagreements")
    for t in TASKS:
        for a, b, count in task_moves(t, *choice[t], p2c.get(t, 0)):
            pool = free[t].get(a, [])
            order = mover.permutation(len(pool)).tolist()
            chosen = [pool[k] for k in order[:count]]
            for i in chosen:
                second[i] = b
            taken = set(chosen)
            free[t][a] = [i for i in pool if i not in taken]

    check_calibration(selected, second)
    rows = []
    writer_rng = rng_for("E", "raw")
    for (c, task, sid, primary), label in zip(selected, second):
        x = writer_rng.random()
        rows.append({
            "model": name_b(*c), "task_name": task, "sample_id": sid,
            "primary_judge_model": primary_model(c), "primary_judge_label": primary,
            "second_judge_model": SECOND_JUDGE_MODEL, "second_judge_label": label,
            "second_judge_parse_success": label not in ("UNCLEAR", "ERROR"),
            "second_judge_raw_response": label if x < 0.92 else f"Classification: {label}",
            "stratum": plan_of[c],
        })
    return rows
