#[test] fn placeholder_for_compile() {}
