import ShortlistModel
import Foundation
import ShortlistData
import ShortlistTrainer

/// Prints the cold-start metrics of a model on its data: known users on the test split beside
/// the users and items held out of training (when the data holds some out), with baselines.
enum ColdStartReport {
    /// One row per population; returns the rows as (name, metrics) for `--json`.
    @discardableResult
    static func print(model: TwoTowerModel, data: InteractionData, threads: Int) throws -> [(String, RankingMetrics)] {
        guard data.coldUsers != nil || data.coldItems != nil else { return [] }
        var rows: [(String, RankingMetrics)] = []
        if data.test.count > 0 { rows.append(("known users, test split", try ColdStartEvaluator.evaluateWarm(model: model, data: data, test: true, threads: threads))) }
        if data.coldUsers != nil {
            if model.embedsUnseenUsers {
                rows.append(("cold users (history + features + context)", try ColdStartEvaluator.evaluateColdUsers(model: model, data: data, threads: threads)))
            }
            rows.append(("cold users, MostPop baseline", try ColdStartEvaluator.mostPopularForColdUsers(data: data, threads: threads)))
        }
        if data.coldItems != nil, model.embedsItemsFromFeatures {
            let m = try ColdStartEvaluator.evaluateColdItems(model: model, data: data, threads: threads)
            rows.append(("cold items in the whole catalogue, from features", m.inCatalogue))
            rows.append(("cold items in the whole catalogue, random vectors", m.inCatalogueRandom))
            rows.append(("cold items among cold items, from features", m.amongCold))
            rows.append(("cold items among cold items, random vectors", m.amongColdRandom))
        }
        Swift.print("cold start (full ranking; cold-item rows count hits on held-out items only):")
        Swift.print("| population | users | recall@20 | ndcg@20 | recall@50 |\n|---|---|---|---|---|")
        for (name, m) in rows {
            Swift.print(String(format: "| %@ | %d | %.4f | %.4f | %.4f |", name, m.userCount, m.value("recall@20") ?? 0, m.value("ndcg@20") ?? 0, m.value("recall@50") ?? 0))
        }
        return rows
    }
}
