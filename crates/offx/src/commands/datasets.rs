//! `offx datasets`: the FINRA datasets offx reads and where each begins.

use anyhow::Result;
use offexchange::{DATASETS, DATASET_STARTS};

pub fn run() -> Result<()> {
    for info in DATASETS {
        println!("{}: {}", info.name, info.description);
        println!("  carriers:    {}", info.carriers.join("; "));
        println!("  publication: {}", info.publication);
        println!("  columns:     {}", info.columns.join(", "));
        if !info.tables.is_empty() {
            println!("  tables:      {}", info.tables.join(", "));
        }
        println!("  migration:   {}", info.migration);
        for start in DATASET_STARTS.iter().filter(|s| s.dataset == info.name) {
            println!("  from {}: {} ({})", start.first, start.part, start.source);
        }
        println!();
    }
    Ok(())
}
