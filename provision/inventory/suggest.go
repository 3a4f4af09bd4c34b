package inventory

import "strings"

// suggest returns the candidate that word was probably meant to be, or ""
// when none is close: "prot" -> "port", "identity" -> "identity_file".
func suggest(word string, candidates []string) string {
	w := normalizeKey(word)
	best, bestDist := "", len(w)/3+1 // allow about one typo in three letters
	for _, c := range candidates {
		if dist := editDistance(w, normalizeKey(c)); dist < bestDist {
			best, bestDist = c, dist
		}
	}
	if best != "" {
		return best
	}
	for _, c := range candidates {
		if len(w) >= 4 && strings.HasPrefix(normalizeKey(c), w) {
			return c
		}
	}
	return ""
}

// normalizeKey ignores case and the difference between '-' and '_'.
func normalizeKey(s string) string {
	return strings.ReplaceAll(strings.ToLower(s), "-", "_")
}

// editDistance counts the insertions, deletions, substitutions and swaps of
// neighbours (optimal string alignment) that turn a into b, in bytes.
func editDistance(a, b string) int {
	rows := make([][]int, len(a)+1)
	for i := range rows {
		rows[i] = make([]int, len(b)+1)
		rows[i][0] = i
	}
	for j := range rows[0] {
		rows[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			rows[i][j] = min(rows[i-1][j]+1, rows[i][j-1]+1, rows[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				rows[i][j] = min(rows[i][j], rows[i-2][j-2]+1)
			}
		}
	}
	return rows[len(a)][len(b)]
}
