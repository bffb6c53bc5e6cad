package io.statebackend.incremental.rocksdb.options;

import io.statebackend.incremental.IncrementalRocksDBConfigurableOptions;
import io.statebackend.incremental.IncrementalRocksDBOptions;

import org.apache.flink.configuration.ConfigOption;

import javax.annotation.Nullable;

import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * How this backend honours each {@code state.backend.rocksdb.*} key of Flink 1.20's RocksDB
 * backend, so that no key of Flink's is ignored silently: it is applied with Flink's meaning,
 * declared not applicable with a reason (and a WARN at start when it is set), or belongs to the
 * native metrics.
 */
public final class FlinkRocksDBKeys {

    /** The prefix of Flink's native metric switches, which the metrics of this backend read. */
    public static final String METRICS_PREFIX = "state.backend.rocksdb.metrics.";

    /** What the backend does with a key. */
    public enum Handling {
        /** Applied with the meaning, type and default of Flink's backend. */
        APPLIED,
        /** Recognised and validated, but without effect here; see the reason. */
        NOT_APPLICABLE,
        /** A native metric switch, read by the backend's metrics. */
        METRICS
    }

    /** Options of this backend that carry a key of Flink's with Flink's meaning. */
    private static final List<ConfigOption<?>> APPLIED =
            Collections.unmodifiableList(
                    Arrays.asList(
                            IncrementalRocksDBOptions.LOCAL_DIRECTORIES,
                            IncrementalRocksDBOptions.TIMER_SERVICE_FACTORY,
                            IncrementalRocksDBOptions.TIMER_SERVICE_CACHE_SIZE,
                            IncrementalRocksDBOptions.CHECKPOINT_TRANSFER_THREAD_NUM,
                            IncrementalRocksDBOptions.USE_MANAGED_MEMORY,
                            IncrementalRocksDBOptions.FIX_PER_SLOT_MEMORY_SIZE,
                            IncrementalRocksDBOptions.WRITE_BUFFER_RATIO,
                            IncrementalRocksDBOptions.HIGH_PRIORITY_POOL_RATIO,
                            IncrementalRocksDBOptions.WRITE_BATCH_SIZE,
                            IncrementalRocksDBConfigurableOptions.PREDEFINED_OPTIONS,
                            IncrementalRocksDBConfigurableOptions.OPTIONS_FACTORY,
                            IncrementalRocksDBConfigurableOptions.FIX_PER_TM_MEMORY_SIZE,
                            IncrementalRocksDBConfigurableOptions.USE_PARTITIONED_INDEX_FILTERS,
                            IncrementalRocksDBConfigurableOptions.MAX_BACKGROUND_THREADS,
                            IncrementalRocksDBConfigurableOptions.MAX_OPEN_FILES,
                            IncrementalRocksDBConfigurableOptions.LOG_MAX_FILE_SIZE,
                            IncrementalRocksDBConfigurableOptions.LOG_FILE_NUM,
                            IncrementalRocksDBConfigurableOptions.LOG_DIR,
                            IncrementalRocksDBConfigurableOptions.LOG_LEVEL,
                            IncrementalRocksDBConfigurableOptions.COMPACTION_STYLE,
                            IncrementalRocksDBConfigurableOptions.USE_DYNAMIC_LEVEL_SIZE,
                            IncrementalRocksDBConfigurableOptions.COMPRESSION_PER_LEVEL,
                            IncrementalRocksDBConfigurableOptions.TARGET_FILE_SIZE_BASE,
                            IncrementalRocksDBConfigurableOptions.MAX_SIZE_LEVEL_BASE,
                            IncrementalRocksDBConfigurableOptions.WRITE_BUFFER_SIZE,
                            IncrementalRocksDBConfigurableOptions.MAX_WRITE_BUFFER_NUMBER,
                            IncrementalRocksDBConfigurableOptions.MIN_WRITE_BUFFER_NUMBER_TO_MERGE,
                            IncrementalRocksDBConfigurableOptions.BLOCK_SIZE,
                            IncrementalRocksDBConfigurableOptions.METADATA_BLOCK_SIZE,
                            IncrementalRocksDBConfigurableOptions.BLOCK_CACHE_SIZE,
                            IncrementalRocksDBConfigurableOptions.USE_BLOOM_FILTER,
                            IncrementalRocksDBConfigurableOptions.BLOOM_FILTER_BITS_PER_KEY,
                            IncrementalRocksDBConfigurableOptions
                                    .RESTORE_OVERLAP_FRACTION_THRESHOLD,
                            IncrementalRocksDBConfigurableOptions.USE_INGEST_DB_RESTORE_MODE,
                            IncrementalRocksDBConfigurableOptions
                                    .INCREMENTAL_RESTORE_ASYNC_COMPACT_AFTER_RESCALE,
                            IncrementalRocksDBConfigurableOptions
                                    .USE_DELETE_FILES_IN_RANGE_DURING_RESCALING));

    /** Keys of Flink's without a counterpart here, with what the backend does instead. */
    private static final Map<ConfigOption<?>, String> NOT_APPLICABLE = notApplicable();

    private static Map<ConfigOption<?>, String> notApplicable() {
        Map<ConfigOption<?>, String> reasons = new LinkedHashMap<>();
        reasons.put(
                IncrementalRocksDBConfigurableOptions.BLOOM_FILTER_BLOCK_BASED_MODE,
                "upstream RocksDB builds full Bloom filters only (block-based filters were"
                        + " removed in RocksDB 7), so the filter is a full filter whatever the"
                        + " value");
        return Collections.unmodifiableMap(reasons);
    }

    private FlinkRocksDBKeys() {}

    /** How the backend handles a key of Flink's, or null if it does not know the key. */
    @Nullable
    public static Handling handlingOf(String key) {
        if (key.startsWith(METRICS_PREFIX)) {
            return Handling.METRICS;
        }
        for (ConfigOption<?> option : NOT_APPLICABLE.keySet()) {
            if (option.key().equals(key)) {
                return Handling.NOT_APPLICABLE;
            }
        }
        for (ConfigOption<?> option : APPLIED) {
            if (option.key().equals(key)) {
                return Handling.APPLIED;
            }
        }
        return null;
    }

    /**
     * A line per key for tools and tests across class loaders: {@code APPLIED}, {@code
     * NOT_APPLICABLE: <reason>}, {@code METRICS}, or null for an unknown key.
     */
    @Nullable
    public static String describe(String key) {
        Handling handling = handlingOf(key);
        if (handling == null) {
            return null;
        }
        if (handling == Handling.NOT_APPLICABLE) {
            return handling.name() + ": " + reasonNotApplicable(key);
        }
        return handling.name();
    }

    /** Why a key does not apply, or null if it does. */
    @Nullable
    public static String reasonNotApplicable(String key) {
        for (Map.Entry<ConfigOption<?>, String> entry : NOT_APPLICABLE.entrySet()) {
            if (entry.getKey().key().equals(key)) {
                return entry.getValue();
            }
        }
        return null;
    }

    /** The options that carry a key of Flink's with its meaning. */
    public static List<ConfigOption<?>> appliedOptions() {
        return APPLIED;
    }

    /** The options without effect here, with the reason. */
    public static Map<ConfigOption<?>, String> notApplicableOptions() {
        return NOT_APPLICABLE;
    }
}
