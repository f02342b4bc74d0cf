pub fn run(_cmd: &crate::cli::TestenvCommand) -> anyhow::Result<()> {
    anyhow::bail!("testenv: not yet")
}
