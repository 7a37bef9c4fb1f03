// A small LCS line diff: which lines of two texts are not common to both (verify's "what the config implies vs
// what was applied" and its rule-by-rule comparison of nftables chains).

/**
 * Lines in which two texts differ (a small LCS line diff): what the config implies vs what was applied, for
 * the message that says "run pulumi up".
 */
export function changedLines(before: string, after: string): { removed: string[]; added: string[] } {
    const a = before.split("\n"),
        b = after.split("\n");
    const { onlyA, onlyB } = lcsSplit(a, b);
    return { removed: onlyA.map((i) => a[i]), added: onlyB.map((i) => b[i]) };
}

/** Indexes of a and b that are not part of a longest common subsequence. */
export function lcsSplit(a: string[], b: string[]): { onlyA: number[]; onlyB: number[] } {
    const n = a.length,
        m = b.length;
    const dp: Uint32Array[] = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
    for (let i = n - 1; i >= 0; i--)
        for (let j = m - 1; j >= 0; j--)
            dp[i][j] = a[i] === b[j] ? dp[i + 1][j + 1] + 1 : Math.max(dp[i + 1][j], dp[i][j + 1]);
    const onlyA: number[] = [],
        onlyB: number[] = [];
    let i = 0,
        j = 0;
    while (i < n && j < m) {
        if (a[i] === b[j]) {
            i++;
            j++;
        } else if (dp[i + 1][j] >= dp[i][j + 1]) onlyA.push(i++);
        else onlyB.push(j++);
    }
    while (i < n) onlyA.push(i++);
    while (j < m) onlyB.push(j++);
    return { onlyA, onlyB };
}
