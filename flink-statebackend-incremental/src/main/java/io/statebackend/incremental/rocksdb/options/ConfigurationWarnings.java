package io.statebackend.incremental.rocksdb.options;

import io.statebackend.incremental.IncrementalRocksDBConfigurableOptions;
import io.statebackend.incremental.IncrementalRocksDBOptions;
import io.statebackend.incremental.IncrementalRocksDBSettings;

import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ReadableConfig;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Tells the user at start, once per JVM and key, which configured keys of Flink's have no effect
 * here or are overridden by the memory bounds of this backend, and what the backend does instead.
 * Flink configures a backend many times (per job and per task); the same warning is logged once.
 */
public final class ConfigurationWarnings {

    private static final Logger LOG = LoggerFactory.getLogger(ConfigurationWarnings.class);

    private static final Set<String> LOGGED = ConcurrentHashMap.newKeySet();

    private ConfigurationWarnings() {}

    /** Logs the warnings for a configuration; returns them, for tests. */
    public static List<String> logFor(ReadableConfig config, IncrementalRocksDBSettings settings) {
        List<String> warnings = warningsFor(config, settings);
        for (String warning : warnings) {
            if (LOGGED.add(warning)) {
                LOG.warn(warning);
            }
        }
        return warnings;
    }

    /** The warnings a configuration deserves, without logging them. */
    public static List<String> warningsFor(
            ReadableConfig config, IncrementalRocksDBSettings settings) {
        List<String> warnings = new ArrayList<>();
        for (Map.Entry<ConfigOption<?>, String> entry :
                FlinkRocksDBKeys.notApplicableOptions().entrySet()) {
            ConfigOption<?> option = entry.getKey();
            if (ConfigValues.isSet(config, option)) {
                warnings.add(
                        String.format(
                                "Configuration key '%s' (value '%s') has no effect on the"
                                        + " incremental RocksDB state backend: %s.",
                                option.key(),
                                ConfigValues.rawValue(config, option),
                                entry.getValue()));
            }
        }
        final boolean boundedMemory =
                settings.getFixedMemoryPerSlot().isPresent() || settings.isUseManagedMemory();
        final String memorySource =
                settings.getFixedMemoryPerSlot().isPresent()
                        ? "'" + IncrementalRocksDBOptions.FIX_PER_SLOT_MEMORY_SIZE.key() + "'"
                        : "managed memory ('"
                                + IncrementalRocksDBOptions.USE_MANAGED_MEMORY.key()
                                + "')";
        if (boundedMemory) {
            overridden(
                    warnings,
                    config,
                    IncrementalRocksDBConfigurableOptions.BLOCK_CACHE_SIZE,
                    "every RocksDB instance of a slot uses the slot's shared block cache, sized"
                            + " from "
                            + memorySource
                            + ", as Flink's backend does");
            overridden(
                    warnings,
                    config,
                    IncrementalRocksDBConfigurableOptions.FIX_PER_TM_MEMORY_SIZE,
                    "RocksDB memory is taken per slot from " + memorySource);
        } else if (!ConfigValues.isSet(
                config, IncrementalRocksDBConfigurableOptions.FIX_PER_TM_MEMORY_SIZE)) {
            overridden(
                    warnings,
                    config,
                    IncrementalRocksDBConfigurableOptions.USE_PARTITIONED_INDEX_FILTERS,
                    "index and filter blocks are partitioned only when the block cache is shared"
                            + " (managed or fixed memory), as in Flink's backend");
        }
        return warnings;
    }

    private static void overridden(
            List<String> warnings, ReadableConfig config, ConfigOption<?> option, String instead) {
        if (ConfigValues.isSet(config, option)) {
            warnings.add(
                    String.format(
                            "Configuration key '%s' (value '%s') is overridden: %s.",
                            option.key(), ConfigValues.rawValue(config, option), instead));
        }
    }
}
