import ArgumentParser

/// A vector given on the command line as comma-separated numbers (`--vector 0.1,0.2,0.3`).
enum VectorText {
    static func parse(_ text: String, option: String = "--vector") throws -> [Float] {
        var values: [Float] = []
        for (i, part) in text.split(separator: ",", omittingEmptySubsequences: false).enumerated() {
            guard let v = Float(part.trimmingCharacters(in: .whitespaces)) else {
                throw ValidationError("\(option): component \(i) ('\(part)') is not a number")
            }
            values.append(v)
        }
        return values
    }
}
