//! `genolm search` and `genolm monitor`: watching and searching.

use std::path::PathBuf;

use clap::Args;
use genolm::search::{search, work, LocalOptions, SearchResults, SearchSpec};

/// `genolm search`.
#[derive(Args)]
pub struct SearchArgs {
    /// The search file (`[search]`, `[base]`, `[space]`; see docs/search.md). Not needed to
    /// continue a search or to run a worker: the folder keeps a copy.
    #[arg(long)]
    pub space: Option<PathBuf>,
    /// The search folder (shared by all workers; one run folder per trial inside).
    #[arg(long)]
    pub out: PathBuf,
    /// Worker processes on this machine.
    #[arg(long, default_value_t = 2)]
    pub workers: usize,
    /// Run one worker and exit when the search is done (e.g. one task of a Slurm job array
    /// over a shared filesystem, after `genolm search --space … --out DIR --workers 0`).
    #[arg(long)]
    pub worker: bool,
    /// Only write the results of what is finished (trials.csv, best.toml, figures).
    #[arg(long)]
    pub results: bool,
    /// No progress lines.
    #[arg(long)]
    pub quiet: bool,
}

pub fn search_cmd(a: SearchArgs) -> genolm::Result<()> {
    if a.worker {
        let name = format!(
            "{}:{}",
            genolm::search::folder::host_name(),
            std::process::id()
        );
        let r = work(&a.out, &name, !a.quiet)?;
        if !a.quiet {
            println!("{name}: {} jobs done, the search is finished", r.jobs.len());
        }
        return Ok(());
    }
    let spec = match &a.space {
        Some(p) => SearchSpec::from_file(p)?,
        None => SearchSpec::from_file(&a.out.join("search.toml")).map_err(|e| {
            genolm::Error::Input(format!(
                "no --space given and {} is not a search folder ({e})",
                a.out.display()
            ))
        })?,
    };
    let results = if a.results {
        let r = SearchResults::load(&a.out)?;
        r.write(&a.out)?;
        r
    } else if a.workers == 0 {
        // only set the folder up: workers started elsewhere do the rest
        genolm::search::prepare(&a.out, &spec)?;
        println!(
            "search folder {} ready: start workers with `genolm search --worker --out {}`",
            a.out.display(),
            a.out.display()
        );
        return Ok(());
    } else {
        let exe = std::env::current_exe().map_err(|e| genolm::Error::io("genolm", e))?;
        search(
            &a.out,
            &spec,
            &LocalOptions {
                workers: a.workers,
                exe: Some(exe),
                verbose: !a.quiet,
            },
        )?
    };
    println!("{}", results.text());
    println!(
        "results in {}: trials.csv, best.toml, loss_vs_budget.svg, importance.svg",
        a.out.display()
    );
    Ok(())
}

/// `genolm monitor`.
#[derive(Args)]
pub struct MonitorArgs {
    /// Run folders, search folders, or folders holding them (searched four levels deep).
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// Port.
    #[arg(long, default_value_t = 6007)]
    pub port: u16,
    /// Address to listen on. The default serves this machine only; `0.0.0.0` serves the
    /// network, without authentication (use an SSH tunnel instead where you can).
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: String,
}

pub fn monitor_cmd(a: MonitorArgs) -> genolm::Result<()> {
    let m = genolm::monitor::Monitor::start(
        &a.dirs,
        &genolm::monitor::MonitorOptions {
            bind: a.bind,
            port: a.port,
            ..Default::default()
        },
    )?;
    let n = genolm::monitor::list(&a.dirs);
    println!(
        "genolm monitor: {} run(s), {} search(es); open http://{} (Ctrl-C stops)",
        n.runs.len(),
        n.searches.len(),
        m.addr()
    );
    m.wait();
    Ok(())
}
