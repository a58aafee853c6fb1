use std::io::Read;
fn main() {
    let mut s = String::new();
    std::io::stdin().read_to_string(&mut s).unwrap();
    // Every language the crate was built with (its cargo features).
    let d = lingua::LanguageDetectorBuilder::from_all_languages().build();
    println!("{:?}", d.detect_language_of(s));
}
