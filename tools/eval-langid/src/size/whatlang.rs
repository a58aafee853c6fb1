use std::io::Read;
fn main() {
    let mut s = String::new();
    std::io::stdin().read_to_string(&mut s).unwrap();
    println!("{:?}", whatlang::detect(&s).map(|i| i.lang().code()));
}
