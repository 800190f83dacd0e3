# per-interpreter extension builds (being written)
