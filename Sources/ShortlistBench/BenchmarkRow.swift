/// One measured point: an index at one setting of its search knobs. Column names follow
/// `../shared/tools/peers`, so both tools' CSV files can be read and plotted together.
public struct BenchmarkRow: Sendable {
    public var dataset: String
    public var algo: String
    public var params: String
    public var threads: Int
    public var k: Int
    public var metric: String
    public var baseCount: Int
    public var dimension: Int
    public var queryCount: Int
    public var buildParams: String
    public var buildSeconds: Double
    public var indexBytes: Int
    public var indexResidentMB: Double
    /// The index's own accounting of the memory it holds (`VectorIndex.memoryBytes`), in MB. Unlike
    /// resident-set growth it does not depend on whether the allocator reuses freed pages.
    public var indexMemoryMB: Double
    public var recall: Double
    public var singleQPS: Double
    public var latencyMeanMicros: Double
    public var latencyP50Micros: Double
    public var latencyP99Micros: Double
    public var batchQPS: Double
    public var lib: String
    public var timestamp: String
    /// Seconds to open the saved index (`IndexLoader.load`, the file in the page cache).
    public var loadSeconds: Double = 0
    /// Growth of resident memory from before the load to after every timed query of every
    /// sweep point, in MB (`indexResidentMB` is the growth at the load alone).
    public var residentAfterQueriesMB: Double = 0

    /// The CSV header (a subset of peers' columns, same names).
    public static let csvHeader = "dataset,algo,params,threads,k,metric,n_base,dim,n_query,build_params,build_s,index_bytes,index_rss_mb,index_mem_mb,recall,single_qps,lat_mean_us,lat_p50_us,lat_p99_us,batch_qps,lib,timestamp,load_s,index_rss_after_queries_mb"

    public var csvLine: String {
        func q(_ s: String) -> String { s.contains(",") ? "\"\(s)\"" : s }
        return [q(dataset), q(algo), q(params), String(threads), String(k), metric, String(baseCount), String(dimension),
                String(queryCount), q(buildParams), fmt(buildSeconds, 3), String(indexBytes), fmt(indexResidentMB, 1), fmt(indexMemoryMB, 1),
                fmt(recall, 5), fmt(singleQPS, 1), fmt(latencyMeanMicros, 2), fmt(latencyP50Micros, 2),
                fmt(latencyP99Micros, 2), fmt(batchQPS, 1), q(lib), timestamp, fmt(loadSeconds, 3), fmt(residentAfterQueriesMB, 1)].joined(separator: ",")
    }
}

func fmt(_ v: Double, _ digits: Int) -> String {
    String(format: "%.\(digits)f", v)
}

import Foundation
