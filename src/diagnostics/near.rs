//! Names close to a misspelt one, for the "did you mean" hints of diagnostics.
//!
//! The distance is the optimal string alignment distance in characters: an insertion, a
//! deletion, a substitution or a swap of two neighbouring characters costs one, so `hcs-desing`
//! is one edit from `hcs-design`. Callers break ties by name, so that a hint does not depend on
//! the order a map hands its keys out.

/// Edits (insertions, deletions, substitutions, swaps of neighbours) from `a` to `b`.
#[must_use]
pub fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // Three rows of the table: two rows back (for swaps), the last one and the one in hand.
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut last: Vec<usize> = (0..=b.len()).collect();
    let mut row: Vec<usize> = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        row[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (last[j] + 1).min(row[j - 1] + 1).min(last[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(before[j - 2] + 1);
            }
            row[j] = best;
        }
        std::mem::swap(&mut before, &mut last);
        std::mem::swap(&mut last, &mut row);
    }
    last[b.len()]
}

#[cfg(test)]
mod tests {
    use super::distance;

    #[test]
    fn each_kind_of_edit_costs_one() {
        for (a, b, d) in [
            ("", "", 0),
            ("design", "design", 0),
            ("design", "desing", 1),
            ("design", "designs", 1),
            ("design", "desgn", 1),
            ("design", "dezign", 1),
            ("", "abc", 3),
            ("abc", "", 3),
            ("ca", "abc", 3),
            ("kitten", "sitting", 3),
            ("été", "ete", 2),
        ] {
            assert_eq!(distance(a, b), d, "{a:?} to {b:?}");
            assert_eq!(distance(b, a), d, "{b:?} to {a:?}");
        }
    }
}
