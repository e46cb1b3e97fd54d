//! Cutting the stream of documents into rows of exactly `seq_len` tokens.

/// Concatenates documents and hands on each full row with the positions where documents start
/// in it. Rows are contiguous and never overlap: the last tokens of a document that do not fit
/// continue at position 0 of the next row.
#[derive(Debug, Clone)]
pub(crate) struct Packer {
    seq_len: usize,
    row: Vec<u32>,
    starts: Vec<u32>,
}

impl Packer {
    pub(crate) fn new(seq_len: usize) -> Packer {
        Packer {
            seq_len,
            row: Vec::with_capacity(seq_len),
            starts: Vec::new(),
        }
    }

    /// Restores a packer from [`Packer::carry`].
    pub(crate) fn with_carry(seq_len: usize, row: Vec<u32>, starts: Vec<u32>) -> Packer {
        Packer {
            seq_len,
            row,
            starts,
        }
    }

    /// The partial row and its document starts (for checkpoints and the final row).
    pub(crate) fn carry(&self) -> (&[u32], &[u32]) {
        (&self.row, &self.starts)
    }

    /// Appends one document (its EOS already included); `emit` gets every row it completes.
    pub(crate) fn push<E>(
        &mut self,
        mut tokens: &[u32],
        mut emit: impl FnMut(&[u32], &[u32]) -> Result<(), E>,
    ) -> Result<(), E> {
        if tokens.is_empty() {
            return Ok(());
        }
        self.starts.push(self.row.len() as u32);
        while !tokens.is_empty() {
            let take = (self.seq_len - self.row.len()).min(tokens.len());
            self.row.extend_from_slice(&tokens[..take]);
            tokens = &tokens[take..];
            if self.row.len() == self.seq_len {
                emit(&self.row, &self.starts)?;
                self.row.clear();
                self.starts.clear();
            }
        }
        Ok(())
    }

    /// Pads the partial row with `pad` to a full row and returns it, or `None` when empty.
    pub(crate) fn pad(&mut self, pad: u32) -> Option<(Vec<u32>, Vec<u32>)> {
        if self.row.is_empty() {
            return None;
        }
        let mut row = std::mem::take(&mut self.row);
        row.resize(self.seq_len, pad);
        Some((row, std::mem::take(&mut self.starts)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Rows = Vec<(Vec<u32>, Vec<u32>)>;

    fn pack(seq_len: usize, docs: &[Vec<u32>]) -> (Rows, Vec<u32>) {
        let mut p = Packer::new(seq_len);
        let mut rows = Vec::new();
        for d in docs {
            p.push::<()>(d, |r, s| {
                rows.push((r.to_vec(), s.to_vec()));
                Ok(())
            })
            .unwrap();
        }
        (rows, p.carry().0.to_vec())
    }

    #[test]
    fn rows_are_contiguous_and_starts_point_at_documents() {
        let docs = vec![
            vec![1, 2, 3],
            vec![4, 5],
            vec![6, 7, 8, 9, 10, 11],
            vec![12],
        ];
        let (rows, carry) = pack(4, &docs);
        let flat: Vec<u32> = rows
            .iter()
            .flat_map(|(r, _)| r.clone())
            .chain(carry)
            .collect();
        assert_eq!(flat, (1..=12).collect::<Vec<_>>());
        assert_eq!(rows[0], (vec![1, 2, 3, 4], vec![0, 3]));
        assert_eq!(rows[1], (vec![5, 6, 7, 8], vec![1]));
        // A row that starts in the middle of a document has no start at 0.
        assert_eq!(rows[2], (vec![9, 10, 11, 12], vec![3]));
    }

    #[test]
    fn a_document_longer_than_several_rows_spans_them() {
        let (rows, carry) = pack(3, &[(0..10).collect()]);
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[1].1, Vec::<u32>::new());
        assert_eq!(carry, vec![9]);
    }
}
