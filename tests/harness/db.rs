//! Databases for tests: a fresh SQLite file or a fresh PostgreSQL database each, and the macro
//! that runs a test on both.

use sqlx::Executor;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

pub const BOTH: [Db; 2] = [Db::Sqlite, Db::Postgres];

/// A fresh, empty database URL for one test.
pub async fn fresh_db(db: Db) -> String {
    match db {
        Db::Sqlite => {
            let dir = std::env::temp_dir().join(format!("studio-test-{}", uuid::Uuid::new_v4()));
            std::fs::create_dir_all(&dir).expect("temp dir");
            format!("sqlite://{}?mode=rwc", dir.join("t.db").display())
        }
        Db::Postgres => {
            let admin = std::env::var("TEST_DATABASE_URL").expect(
                "TEST_DATABASE_URL is not set: run the tests with scripts/test.sh, which starts a throwaway PostgreSQL",
            );
            sqlx::any::install_default_drivers();
            let name = format!("t_{}", uuid::Uuid::new_v4().simple());
            let mut conn =
                <sqlx::AnyConnection as sqlx::Connection>::connect(&admin).await.expect("connect to postgres");
            conn.execute(format!("create database {name}").as_str()).await.expect("create database");
            let base = admin.rsplit_once('/').map(|(b, _)| b).expect("url with a database");
            format!("{base}/{name}")
        }
    }
}

/// The directory of a SQLite URL from [`fresh_db`], removed when this is dropped (tests that use a
/// store without a [`crate::TestApp`], which removes its own); nothing for PostgreSQL.
pub struct DbDir(Option<std::path::PathBuf>);

impl DbDir {
    pub fn of(url: &str) -> DbDir {
        let path = url.strip_prefix("sqlite://").and_then(|p| p.split('?').next());
        DbDir(path.and_then(|p| std::path::Path::new(p).parent()).map(std::path::Path::to_path_buf))
    }
}

impl Drop for DbDir {
    fn drop(&mut self) {
        if let Some(d) = self.0.take().filter(|d| d.starts_with(std::env::temp_dir())) {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

/// Run each listed `async fn name(db: Db)` of the calling file once on SQLite and once on PostgreSQL.
#[macro_export]
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() { super::$name($crate::Db::Sqlite).await } )*
        }
        mod postgres {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() { super::$name($crate::Db::Postgres).await } )*
        }
    };
}
