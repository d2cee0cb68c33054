//! The EVE-style fleet skirmish (in progress; see issue 5).
fn main() {
    println!("skirmish: not built yet");
}
