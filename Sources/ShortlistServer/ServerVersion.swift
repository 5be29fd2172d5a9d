/// The version string `info` reports.
public enum ServerVersion {
    public static let string = "0.1.0"
}
