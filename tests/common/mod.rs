//! Helpers shared by integration tests.

use genolm::models::ModelConfig;

/// Shrink a preset so a test runs in seconds, keeping its structure.
pub fn small(mut c: ModelConfig) -> ModelConfig {
    c.emb_dim = c.emb_dim.min(16);
    c.lstm_hidden = c.lstm_hidden.min(24);
    c.conv_channels = c.conv_channels.min(16);
    c.attn_heads = c.attn_heads.min(2);
    if c.conv_layers > 0 && c.conv_skip {
        c.conv_channels = 16;
    }
    if c.tie_weights && c.conv_layers > 0 && c.lstm_layers == 0 {
        c.conv_channels = c.emb_dim;
    }
    c
}
