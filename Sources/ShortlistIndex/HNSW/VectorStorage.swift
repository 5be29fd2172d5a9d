import CShortlistKernels
import ShortlistCore

/// How HNSW keeps its vectors in memory.
public enum VectorStorage: String, Sendable, Equatable, CaseIterable {
    /// Float32, exact. 4 bytes per component.
    case float32
    /// IEEE half precision (FAISS's `SQfp16`), 2 bytes per component: half the memory and half
    /// the bytes each graph step reads, so searches run faster where memory bandwidth bounds them.
    /// Values keep 11 significant bits (relative error ≤ 2⁻¹¹); integers up to 2048 are exact.
    case float16
    /// 8-bit scalar quantization for the walk, float16 rows for the final ranking (`,SQ8`): the
    /// graph is walked on one byte per component (a per-component range of 256 steps, fitted
    /// to the rows), a quarter of the float32 bytes each step reads, with integer dot products;
    /// the `ef` best found are then re-ranked on their float16 rows, so reported distances and
    /// the order of the top k are those of `.float16`. 3 bytes per component in memory.
    case sq8
}
