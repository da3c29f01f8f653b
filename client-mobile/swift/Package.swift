// swift-tools-version:5.10
// The Chorus client for iOS and macOS: the UniFFI-generated Swift API
// (Sources/Chorus, refreshed by scripts/build-mobile) over the Rust library,
// which ships as ChorusFFI.xcframework (built by scripts/build-xcframework on a
// Mac; not committed). See docs/mobile.md.
import PackageDescription

let package = Package(
    name: "Chorus",
    platforms: [.iOS(.v15), .macOS(.v12)],
    products: [
        .library(name: "Chorus", targets: ["Chorus"]),
    ],
    targets: [
        .binaryTarget(name: "ChorusFFI", path: "ChorusFFI.xcframework"),
        .target(name: "Chorus", dependencies: ["ChorusFFI"], path: "Sources/Chorus"),
        .testTarget(name: "ChorusTests", dependencies: ["Chorus"], path: "Tests/ChorusTests"),
    ]
)
