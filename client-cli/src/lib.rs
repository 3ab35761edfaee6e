//! `dfs_client`: the one library that knows how files become blocks and back.
//! (stub: being built)

/// A handle on one dfs cluster (cheap to clone).
#[derive(Clone)]
pub struct DfsClient {
    namenode: String,
}

impl DfsClient {
    pub fn new(namenode_url: &str) -> Result<Self, String> {
        Ok(Self { namenode: namenode_url.trim_end_matches('/').to_string() })
    }
    pub fn namenode_url(&self) -> &str {
        &self.namenode
    }
}
