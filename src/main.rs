fn main() {
    println!("lingerscan");
}
