use std::io::Read;
fn main() {
    let mut s = String::new();
    std::io::stdin().read_to_string(&mut s).unwrap();
    println!("{}", s.chars().filter(|c| c.is_alphabetic()).count());
}
