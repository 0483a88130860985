//! Exact nearest-neighbour search over memory embeddings: cosine similarity against every
//! candidate (no approximation), keeping the best `limit` in a bounded heap. Both backends
//! use it; each only decides which candidates to feed it (one user's memories of one
//! character and one model, never more).

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use serde_json::Value;
use uuid::Uuid;

use crate::model::{Document, UserId};

/// A search: the query vector and where to look.
#[derive(Debug, Clone)]
pub struct VectorQuery {
    pub user: UserId,
    pub character_id: Uuid,
    pub model: String,
    pub vector: Vec<f32>,
    pub limit: usize,
    /// Matches scoring below this are left out.
    pub min_score: Option<f32>,
}

/// A document found by a search, with its cosine similarity to the query.
#[derive(Debug, Clone)]
pub struct Scored {
    pub document: Document,
    pub score: f32,
}

/// A stored vector ready for scoring: values as `f32` and their norm, computed once.
#[derive(Debug)]
pub struct PreparedVector {
    pub model: String,
    pub values: Box<[f32]>,
    pub norm: f32,
}

impl PreparedVector {
    pub fn new(model: String, values: Box<[f32]>) -> Self {
        let norm = norm(&values);
        Self {
            model,
            values,
            norm,
        }
    }

    /// The `embedding` of a memory body, if it has a well-formed one.
    pub fn of_body(body: &serde_json::Map<String, Value>) -> Option<Self> {
        let embedding = body.get("embedding")?.as_object()?;
        let model = embedding.get("model")?.as_str()?.to_owned();
        let values = vector_of(embedding.get("vector")?)?;
        Some(Self::new(model, values))
    }
}

/// A JSON array of numbers as `f32` values.
pub fn vector_of(value: &Value) -> Option<Box<[f32]>> {
    value
        .as_array()?
        .iter()
        .map(|item| item.as_f64().map(|number| number as f32))
        .collect()
}

pub fn norm(values: &[f32]) -> f32 {
    dot(values, values).sqrt()
}

/// The dot product, in eight independent lanes so the compiler can vectorize it.
fn dot(left: &[f32], right: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let chunks = left.chunks_exact(8).zip(right.chunks_exact(8));
    for (a, b) in chunks {
        for lane in 0..8 {
            lanes[lane] += a[lane] * b[lane];
        }
    }
    let tail_start = left.len() - left.len() % 8;
    let tail: f32 = left[tail_start..]
        .iter()
        .zip(&right[tail_start..])
        .map(|(a, b)| a * b)
        .sum();
    lanes.iter().sum::<f32>() + tail
}

/// The cosine similarity of a query (with its norm) and a stored vector; `None` when the
/// dimensions differ or either vector is zero.
pub fn cosine(query: &[f32], query_norm: f32, stored: &PreparedVector) -> Option<f32> {
    if query.len() != stored.values.len() || query_norm == 0.0 || stored.norm == 0.0 {
        return None;
    }
    Some(dot(query, &stored.values) / (query_norm * stored.norm))
}

/// A score ordered totally (NaN never occurs: vectors are finite and non-zero).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Score(f32);

impl Eq for Score {}

impl PartialOrd for Score {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Score {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// The best `limit` (id, score) pairs seen so far.
pub struct TopK {
    limit: usize,
    min_score: Option<f32>,
    /// A min-heap: the worst kept score on top, replaced by anything better.
    heap: BinaryHeap<Reverse<(Score, Reverse<Uuid>)>>,
}

impl TopK {
    pub fn new(limit: usize, min_score: Option<f32>) -> Self {
        Self {
            limit,
            min_score,
            heap: BinaryHeap::with_capacity(limit + 1),
        }
    }

    pub fn offer(&mut self, id: Uuid, score: f32) {
        if self.limit == 0 || self.min_score.is_some_and(|minimum| score < minimum) {
            return;
        }
        // Ties go to the smaller (older) id, so results are stable across backends.
        let entry = Reverse((Score(score), Reverse(id)));
        if self.heap.len() < self.limit {
            self.heap.push(entry);
        } else if self.heap.peek().is_some_and(|worst| entry < *worst) {
            self.heap.pop();
            self.heap.push(entry);
        }
    }

    /// The kept pairs, best first.
    pub fn into_sorted(self) -> Vec<(Uuid, f32)> {
        let mut items: Vec<_> = self
            .heap
            .into_iter()
            .map(|Reverse((Score(score), Reverse(id)))| (id, score))
            .collect();
        items.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        items
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_of_parallel_orthogonal_and_opposite_vectors() {
        let query = [1.0, 0.0, 0.0];
        let stored = |values: &[f32]| PreparedVector::new("m".into(), values.into());
        let score = |values: &[f32]| cosine(&query, norm(&query), &stored(values)).unwrap();
        assert!((score(&[2.0, 0.0, 0.0]) - 1.0).abs() < 1e-6);
        assert!(score(&[0.0, 3.0, 0.0]).abs() < 1e-6);
        assert!((score(&[-1.0, 0.0, 0.0]) + 1.0).abs() < 1e-6);
        assert!(cosine(&query, 1.0, &stored(&[1.0, 0.0])).is_none());
    }

    #[test]
    fn the_long_dot_product_matches_the_plain_one() {
        let left: Vec<f32> = (0..1_537).map(|index| (index as f32).sin()).collect();
        let right: Vec<f32> = (0..1_537).map(|index| (index as f32).cos()).collect();
        let plain: f32 = left.iter().zip(&right).map(|(a, b)| a * b).sum();
        assert!((dot(&left, &right) - plain).abs() < 1e-2);
    }

    #[test]
    fn top_k_keeps_the_best_in_order_and_honours_the_minimum() {
        let ids: Vec<Uuid> = (0..6).map(|_| Uuid::now_v7()).collect();
        let mut top = TopK::new(3, Some(0.0));
        for (id, score) in ids.iter().zip([0.1, 0.9, -0.5, 0.5, 0.95, 0.2]) {
            top.offer(*id, score);
        }
        let kept = top.into_sorted();
        assert_eq!(
            kept.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
            vec![ids[4], ids[1], ids[3]]
        );
    }
}
