package io.statebackend.incremental.rocksdb.options;

import io.statebackend.incremental.IncrementalRocksDBConfigurableOptions;

import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.MemorySize;

import org.rocksdb.CompactionStyle;

import javax.annotation.Nullable;

import java.util.Collections;
import java.util.HashMap;
import java.util.Map;

/**
 * The profiles of {@code state.backend.rocksdb.predefined-options}, with the values Flink 1.20's
 * profiles of the same names set, so that a job keeps its tuning when it changes backends. A
 * configured key wins over its profile's value.
 */
public enum PredefinedOptions {
    /** No changes to the keys' defaults. */
    DEFAULT(Collections.emptyMap()),

    /** Level compaction with dynamic level sizes and more background threads. */
    SPINNING_DISK_OPTIMIZED(
            values(
                    IncrementalRocksDBConfigurableOptions.COMPACTION_STYLE,
                    CompactionStyle.LEVEL,
                    IncrementalRocksDBConfigurableOptions.USE_DYNAMIC_LEVEL_SIZE,
                    true,
                    IncrementalRocksDBConfigurableOptions.MAX_BACKGROUND_THREADS,
                    4,
                    IncrementalRocksDBConfigurableOptions.MAX_OPEN_FILES,
                    -1)),

    /** Like {@link #SPINNING_DISK_OPTIMIZED}, with larger blocks, files and caches and a filter. */
    SPINNING_DISK_OPTIMIZED_HIGH_MEM(
            values(
                    IncrementalRocksDBConfigurableOptions.BLOCK_CACHE_SIZE,
                    MemorySize.parse("256mb"),
                    IncrementalRocksDBConfigurableOptions.BLOCK_SIZE,
                    MemorySize.parse("128kb"),
                    IncrementalRocksDBConfigurableOptions.USE_DYNAMIC_LEVEL_SIZE,
                    true,
                    IncrementalRocksDBConfigurableOptions.MAX_BACKGROUND_THREADS,
                    4,
                    IncrementalRocksDBConfigurableOptions.MAX_SIZE_LEVEL_BASE,
                    MemorySize.parse("1gb"),
                    IncrementalRocksDBConfigurableOptions.MAX_OPEN_FILES,
                    -1,
                    IncrementalRocksDBConfigurableOptions.MAX_WRITE_BUFFER_NUMBER,
                    4,
                    IncrementalRocksDBConfigurableOptions.MIN_WRITE_BUFFER_NUMBER_TO_MERGE,
                    3,
                    IncrementalRocksDBConfigurableOptions.TARGET_FILE_SIZE_BASE,
                    MemorySize.parse("256mb"),
                    IncrementalRocksDBConfigurableOptions.WRITE_BUFFER_SIZE,
                    MemorySize.parse("64mb"),
                    IncrementalRocksDBConfigurableOptions.USE_BLOOM_FILTER,
                    true)),

    /** More background threads for fast disks. */
    FLASH_SSD_OPTIMIZED(
            values(
                    IncrementalRocksDBConfigurableOptions.MAX_BACKGROUND_THREADS, 4,
                    IncrementalRocksDBConfigurableOptions.MAX_OPEN_FILES, -1));

    /** Values by key; immutable. */
    private final Map<String, Object> values;

    PredefinedOptions(Map<String, Object> values) {
        this.values = values;
    }

    /** The profile's value for the option, or {@code null} if the profile leaves it alone. */
    @Nullable
    @SuppressWarnings("unchecked")
    <T> T getValue(ConfigOption<T> option) {
        return (T) values.get(option.key());
    }

    /** The keys this profile sets, for documentation and tests. */
    public Map<String, Object> getValues() {
        return values;
    }

    private static Map<String, Object> values(Object... optionsAndValues) {
        Map<String, Object> map = new HashMap<>();
        for (int i = 0; i < optionsAndValues.length; i += 2) {
            map.put(((ConfigOption<?>) optionsAndValues[i]).key(), optionsAndValues[i + 1]);
        }
        return Collections.unmodifiableMap(map);
    }
}
