//! (in progress)
pub struct Worker;
impl Worker {
    pub async fn from_env() -> anyhow::Result<Worker> { Ok(Worker) }
    pub async fn drain(&self) -> anyhow::Result<usize> { Ok(0) }
    pub async fn run(&self) -> anyhow::Result<()> { Ok(()) }
}
