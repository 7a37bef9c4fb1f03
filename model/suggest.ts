// "Did you mean ...?" for unknown keys and values in stack config.

/** Edit distance (insert, delete, substitute, swap of neighbours), case-insensitive. */
export function editDistance(a: string, b: string): number {
    const s = a.toLowerCase(),
        t = b.toLowerCase();
    const d: number[][] = Array.from({ length: s.length + 1 }, (_, i) => [i, ...new Array<number>(t.length).fill(0)]);
    for (let j = 1; j <= t.length; j++) d[0][j] = j;
    for (let i = 1; i <= s.length; i++) {
        for (let j = 1; j <= t.length; j++) {
            const cost = s[i - 1] === t[j - 1] ? 0 : 1;
            d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
            if (i > 1 && j > 1 && s[i - 1] === t[j - 2] && s[i - 2] === t[j - 1]) {
                d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
            }
        }
    }
    return d[s.length][t.length];
}

/** The closest candidate when it is close enough to be a plausible typo, else undefined. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
    let best: string | undefined;
    let bestDistance = Infinity;
    for (const c of candidates) {
        const dist = editDistance(word, c);
        if (dist < bestDistance) {
            best = c;
            bestDistance = dist;
        }
    }
    // A typo is a few edits, fewer for short words: "adress" → "address", but not "ucm.example" → "backup.example".
    const limit = word.length <= 4 ? 1 : Math.min(3, Math.ceil(word.length / 4));
    if (best !== undefined && bestDistance <= limit) return best;
    // Or a prefix of a longer key ("unity" → "unityConnection").
    const lower = word.toLowerCase();
    if (lower.length >= 3)
        return candidates.find((c) => c.toLowerCase().startsWith(lower) || lower.startsWith(c.toLowerCase()));
    return undefined;
}

/** ' (did you mean "x"?)' or "" */
export function didYouMean(word: string, candidates: readonly string[]): string {
    const c = closest(word, candidates);
    return c !== undefined && c !== word ? ` (did you mean "${c}"?)` : "";
}
