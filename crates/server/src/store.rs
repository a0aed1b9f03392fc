//! Opens the store the configuration names, in one place: PostgreSQL when
//! `database_url` is set, else the embedded SQLite file in the data directory. Past
//! this point nothing knows which database it talks to.

use std::time::Duration;

use podium_core::error::error_chain;
use podium_core::store::Stores;
use podium_store_postgres::{PgOptions, PostgresStore};
use podium_store_sqlite::{SqliteOptions, SqliteStore};

use crate::StartError;
use crate::config::{Config, Durability};

/// The database file inside the data directory.
pub const DATABASE_FILE: &str = "podium.db";

/// Opens and migrates the configured store.
pub(crate) async fn open_store(config: &Config) -> Result<Stores, StartError> {
    let store_error = |e: podium_core::store::StoreError| StartError::Store(error_chain(&e));
    match &config.database_url {
        Some(url) => {
            let mut options = PgOptions::new(url.expose());
            options.pool_size = config.database_pool_size;
            options.pool_wait = Duration::from_millis(config.database_pool_wait_ms);
            options.connect_timeout = Duration::from_millis(config.database_connect_timeout_ms);
            options.statement_timeout = Duration::from_millis(config.database_statement_timeout_ms);
            options.ca_file = config.database_ca_file.clone();
            let store = PostgresStore::open(&options).await.map_err(store_error)?;
            Ok(store.stores())
        }
        None => {
            let mut options = SqliteOptions::new(config.data_dir.join(DATABASE_FILE));
            options.durability = match config.durability {
                Durability::Process => podium_store_sqlite::Durability::Process,
                Durability::PowerLoss => podium_store_sqlite::Durability::PowerLoss,
            };
            let store = SqliteStore::open(&options).map_err(store_error)?;
            Ok(store.stores())
        }
    }
}
