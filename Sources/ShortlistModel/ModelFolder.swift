import Foundation

/// The files of a model folder written by `shortlist train`, by name.
public enum ModelFolder {
    /// The two-tower model (`ModelFile`).
    public static let modelFileName = "model.slm"
    /// The settings of an ALS model (`train --model als`): factors, no towers.
    public static let alsSettingsName = "als.json"
    /// Each item's title and categories, one JSON object per line.
    public static let itemPayloadsName = "item_payloads.jsonl"

    /// `folder`/`name`.
    public static func path(_ folder: String, _ name: String) -> String {
        (folder as NSString).appendingPathComponent(name)
    }

    /// Whether `folder` holds an ALS model (`als.json`) rather than towers.
    public static func holdsALSModel(_ folder: String) -> Bool {
        FileManager.default.fileExists(atPath: path(folder, alsSettingsName))
    }
}
