// swift-tools-version:6.0
import PackageDescription

/// Release builds of the Swift compute modules target x86-64-v3 (AVX2 + FMA), and the C kernels
/// build with -O3 (they pick AVX-512 / AVX2 / scalar at start-up): docs/performance.md §2.
///
/// Those flags are "unsafe" to SwiftPM, which refuses them in a package that another package
/// depends on by version. So they are set only when this package is the one being built (not a
/// checkout under another package's `.build/checkouts` or Xcode's `SourcePackages`), and not
/// with `SHORTLIST_PORTABLE=1`; `SHORTLIST_NATIVE=1` sets them wherever the package lies. A
/// package depending on Shortlist gets portable code; it can ask for the same instructions with
/// `swift build -c release -Xswiftc -Xcc -Xswiftc -march=x86-64-v3`.
let builtAsDependency = Context.packageDirectory.contains("/checkouts/") || Context.packageDirectory.contains("/SourcePackages/")
let fastFlags = Context.environment["SHORTLIST_NATIVE"] == "1" || (!builtAsDependency && Context.environment["SHORTLIST_PORTABLE"] == nil)
let computeFlags: [SwiftSetting] = fastFlags ? [
    .unsafeFlags(["-Xcc", "-march=x86-64-v3", "-enforce-exclusivity=unchecked"], .when(platforms: [.linux], configuration: .release)),
] : []
let kernelFlags: [CSetting] = fastFlags ? [.unsafeFlags(["-O3", "-fno-math-errno"])] : []

let package = Package(
    name: "Shortlist",
    products: [
        .executable(name: "shortlist", targets: ["shortlist"]),
        .library(name: "ShortlistIndex", targets: ["ShortlistIndex"]),
        .library(name: "ShortlistData", targets: ["ShortlistData"]),
        .library(name: "ShortlistModel", targets: ["ShortlistModel"]),
        .library(name: "ShortlistProtocol", targets: ["ShortlistProtocol"]),
        .library(name: "ShortlistClient", targets: ["ShortlistClient"]),
        .library(name: "ShortlistTrainer", targets: ["ShortlistTrainer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.81.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.1.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.0"),
    ],
    targets: [
        .target(
            name: "CShortlistKernels",
            cSettings: kernelFlags
        ),
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS"),
        .systemLibrary(name: "CLAPACKE", path: "Sources/CLAPACKE"),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        .target(
            name: "ShortlistCore",
            dependencies: ["CShortlistKernels", "CBLAS", "CLAPACKE"],
            swiftSettings: computeFlags
        ),
        .target(
            name: "ShortlistFeatures",
            dependencies: ["ShortlistCore"],
            swiftSettings: computeFlags
        ),
        .target(
            name: "ShortlistModel",
            dependencies: ["ShortlistCore", "ShortlistFeatures"],
            swiftSettings: computeFlags
        ),
        .target(
            name: "ShortlistData",
            dependencies: ["ShortlistCore", "ShortlistFeatures", "CZlib"],
            swiftSettings: computeFlags
        ),
        .target(
            name: "ShortlistIndex",
            dependencies: ["ShortlistCore", "CShortlistKernels", "CBLAS"],
            swiftSettings: computeFlags
        ),
        .target(
            name: "ShortlistTrainer",
            dependencies: ["ShortlistCore", "ShortlistFeatures", "ShortlistModel", "ShortlistData", "CShortlistKernels"],
            swiftSettings: computeFlags
        ),
        .target(
            name: "ShortlistProtocol",
            dependencies: ["ShortlistCore", "ShortlistFeatures", "ShortlistIndex"],
            swiftSettings: computeFlags
        ),
        .target(
            name: "ShortlistClient",
            dependencies: ["ShortlistCore", "ShortlistProtocol"]
        ),
        .target(
            name: "ShortlistServer",
            dependencies: [
                "ShortlistCore", "ShortlistIndex", "ShortlistFeatures", "ShortlistModel", "ShortlistProtocol", "ShortlistClient",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: computeFlags
        ),
        .target(
            name: "ShortlistBench",
            dependencies: ["ShortlistCore", "ShortlistData", "ShortlistIndex", "ShortlistProtocol", "ShortlistClient", "ShortlistServer"],
            swiftSettings: computeFlags
        ),
        .executableTarget(
            name: "shortlist",
            dependencies: [
                "ShortlistCore", "ShortlistFeatures", "ShortlistModel", "ShortlistData", "ShortlistIndex", "ShortlistTrainer", "ShortlistBench", "ShortlistProtocol", "ShortlistClient", "ShortlistServer", "CShortlistKernels",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "ShortlistTestSupport",
            dependencies: ["ShortlistCore", "ShortlistFeatures", "ShortlistModel", "ShortlistData", "ShortlistTrainer"],
            path: "Tests/ShortlistTestSupport"
        ),
        .testTarget(name: "ShortlistCoreTests", dependencies: ["ShortlistCore", "CShortlistKernels", "ShortlistTestSupport"]),
        .testTarget(name: "ShortlistDataTests", dependencies: ["ShortlistData", "ShortlistFeatures", "ShortlistTestSupport"]),
        .testTarget(name: "ShortlistTrainerTests", dependencies: ["ShortlistTrainer", "ShortlistModel", "ShortlistFeatures", "ShortlistData", "ShortlistTestSupport"]),
        .testTarget(name: "ShortlistBenchTests", dependencies: ["ShortlistBench", "ShortlistTestSupport"]),
        .testTarget(
            name: "ShortlistServerTests",
            dependencies: ["ShortlistServer", "ShortlistProtocol", "ShortlistClient", "ShortlistBench", "ShortlistIndex", "ShortlistModel", "ShortlistFeatures", "ShortlistTrainer", "ShortlistData", "ShortlistCore", "ShortlistTestSupport",
                           .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(
            name: "ShortlistProtocolTests",
            dependencies: ["ShortlistProtocol", "ShortlistFeatures", "ShortlistIndex", "ShortlistCore", "ShortlistTestSupport"]
        ),
        .testTarget(
            name: "ShortlistIndexTests",
            dependencies: ["ShortlistIndex", "ShortlistData", "ShortlistTestSupport"],
            resources: [.copy("Golden")]
        ),
    ],
    swiftLanguageModes: [.v5]
)
