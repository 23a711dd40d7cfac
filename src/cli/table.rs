//! Tables as kubectl prints them: a header, no borders, no leading space, three spaces
//! between columns, no trailing spaces. On a terminal the table fits its width (long cells,
//! such as MESSAGE, wrap); piped, lines are as long as their content.

use comfy_table::{ContentArrangement, Table, presets::NOTHING};

/// An empty table in this style.
pub fn new() -> Table {
    let mut t = Table::new();
    t.load_style(NOTHING);
    if crate::term::stdout_is_tty() {
        t.set_content_arrangement(ContentArrangement::Dynamic);
    }
    t
}

/// The table as text, one line per row, without a trailing newline.
pub fn render(mut t: Table) -> String {
    let last = t.column_count().saturating_sub(1);
    for (i, c) in t.column_iter_mut().enumerate() {
        c.set_padding((0, if i == last { 0 } else { 3 }));
    }
    t.to_string()
        .lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_like_kubectl() {
        let mut t = new();
        t.set_header(["NAME", "STATUS", "MESSAGE"]);
        t.add_row(["web-n1", "Running", ""]);
        t.add_row(["db", "CrashLoopBackOff", "back-off 10s"]);
        assert_eq!(
            render(t),
            "NAME     STATUS             MESSAGE\nweb-n1   Running\ndb       CrashLoopBackOff   back-off 10s"
        );
    }
}
