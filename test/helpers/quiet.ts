// Imported first by tests: the daemon's logs only when something is wrong (set EARSHOT_LOG_LEVEL to see more).
process.env.EARSHOT_LOG_LEVEL ??= 'error';
