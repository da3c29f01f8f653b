//! `uniffi-bindgen`, built from the same UniFFI version as `chorus-mobile`, so
//! the generated Kotlin and Swift always match the library's scaffolding.

fn main() {
    uniffi::uniffi_bindgen_main()
}
