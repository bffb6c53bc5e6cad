package io.statebackend.incremental.ttl;

import org.apache.flink.api.common.state.StateTtlConfig;

import java.time.Duration;

/** Reads which TTL cleanup a state's {@link StateTtlConfig} asks this backend for. */
public final class TtlCleanupStrategies {

    /**
     * The incremental strategy the runtime reports for every config with background cleanup on and
     * no explicit {@code cleanupIncrementally}. Compared by identity: an explicit call creates a
     * new object even with the same values.
     */
    private static final StateTtlConfig.IncrementalCleanupStrategy IMPLICIT_INCREMENTAL =
            StateTtlConfig.newBuilder(Duration.ofMillis(1))
                    .build()
                    .getCleanupStrategies()
                    .getIncrementalCleanupStrategy();

    private TtlCleanupStrategies() {}

    /**
     * Whether the config carries an incremental strategy only because background cleanup is on, not
     * because {@code cleanupIncrementally} was called.
     */
    public static boolean incrementalOnlyByDefault(StateTtlConfig config) {
        return config.isEnabled()
                && IMPLICIT_INCREMENTAL != null
                && config.getCleanupStrategies().getIncrementalCleanupStrategy()
                        == IMPLICIT_INCREMENTAL;
    }

    /**
     * Whether the config asks for RocksDB's background cleanup: {@code cleanupInBackground()} (the
     * default) or {@code cleanupInRocksdbCompactFilter(...)}.
     */
    public static boolean inBackground(StateTtlConfig config) {
        return config.isEnabled() && config.getCleanupStrategies().inRocksdbCompactFilter();
    }
}
