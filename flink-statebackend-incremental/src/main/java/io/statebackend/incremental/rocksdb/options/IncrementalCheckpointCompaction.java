package io.statebackend.incremental.rocksdb.options;

import io.statebackend.incremental.IncrementalRocksDBConfigurableOptions;
import io.statebackend.incremental.IncrementalRocksDBOptions;

import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.MemorySize;
import org.apache.flink.configuration.ReadableConfig;

import javax.annotation.Nullable;

import java.util.Collections;
import java.util.HashMap;
import java.util.Map;

/**
 * The compaction defaults for incremental checkpoints ({@link
 * IncrementalRocksDBOptions#COMPACTION_TUNED_FOR_INCREMENTAL_CHECKPOINTS}): which values replace
 * Flink's defaults, and when.
 *
 * <p>An incremental checkpoint uploads every SST file written since the last one, flushes and
 * compaction outputs alike. With Flink's defaults (level compaction, static level sizes, a 256 MB
 * base level of 64 MB files) a state of up to a few hundred megabytes lies in one level, and since
 * updates are spread over all keys, every compaction of level 0 rewrites all of it: the whole state
 * is uploaded every fourth flush. With dynamic level sizes and a small base level, level 0 is
 * compacted into a level a fraction of the state's size, and lower levels are compacted a file of a
 * few megabytes at a time; the bytes uploaded per checkpoint stay a small multiple of the bytes
 * written. The measurements behind the values are in docs/checkpoint-cost.md.
 *
 * <p>A value applies only where nobody chose: not for a key that is configured or set by the
 * predefined options, and not at all when an options factory is configured. The values without a
 * Flink key (the level size multiplier) apply only if the compaction style was not chosen either.
 */
public final class IncrementalCheckpointCompaction {

    /** Level targets derived from the size of the last level, so that the base level is small. */
    static final boolean DYNAMIC_LEVEL_SIZE = true;

    /** The base level's target; level 0 is compacted into a level of about this size. */
    static final MemorySize MAX_SIZE_LEVEL_BASE = MemorySize.parse("4mb");

    /** Small files, so that a compaction below the base level rewrites little at a time. */
    static final MemorySize TARGET_FILE_SIZE_BASE = MemorySize.parse("1mb");

    /** Level size ratio: more, smaller levels than RocksDB's 10. */
    static final double LEVEL_SIZE_MULTIPLIER = 4.0;

    private static final Map<String, Object> VALUES = values();

    private final boolean active;
    private final boolean styleChosen;

    private IncrementalCheckpointCompaction(boolean active, boolean styleChosen) {
        this.active = active;
        this.styleChosen = styleChosen;
    }

    /** Whether the configuration leaves room for the defaults, and whether it asks for them. */
    static IncrementalCheckpointCompaction of(ReadableConfig config, PredefinedOptions profile) {
        boolean enabled =
                ConfigValues.read(
                        config,
                        IncrementalRocksDBOptions.COMPACTION_TUNED_FOR_INCREMENTAL_CHECKPOINTS);
        String factory =
                ConfigValues.read(config, IncrementalRocksDBConfigurableOptions.OPTIONS_FACTORY);
        boolean factoryConfigured = factory != null && !factory.trim().isEmpty();
        boolean styleChosen =
                ConfigValues.isSet(config, IncrementalRocksDBConfigurableOptions.COMPACTION_STYLE)
                        || profile.getValue(IncrementalRocksDBConfigurableOptions.COMPACTION_STYLE)
                                != null;
        return new IncrementalCheckpointCompaction(enabled && !factoryConfigured, styleChosen);
    }

    /** Whether any of the defaults apply. */
    public boolean isActive() {
        return active;
    }

    /**
     * The default to use for {@code option} instead of the option's own when neither the
     * configuration nor the profile set it; null if there is none.
     */
    @Nullable
    @SuppressWarnings("unchecked")
    <T> T defaultFor(ConfigOption<T> option) {
        return active ? (T) VALUES.get(option.key()) : null;
    }

    /** The level size multiplier to set, or null to keep RocksDB's. */
    @Nullable
    Double levelSizeMultiplier() {
        return active && !styleChosen ? LEVEL_SIZE_MULTIPLIER : null;
    }

    /**
     * The keys and values this class replaces Flink's defaults with, for documentation and tests.
     */
    public static Map<String, Object> getValues() {
        return VALUES;
    }

    private static Map<String, Object> values() {
        Map<String, Object> values = new HashMap<>();
        values.put(
                IncrementalRocksDBConfigurableOptions.USE_DYNAMIC_LEVEL_SIZE.key(),
                DYNAMIC_LEVEL_SIZE);
        values.put(
                IncrementalRocksDBConfigurableOptions.MAX_SIZE_LEVEL_BASE.key(),
                MAX_SIZE_LEVEL_BASE);
        values.put(
                IncrementalRocksDBConfigurableOptions.TARGET_FILE_SIZE_BASE.key(),
                TARGET_FILE_SIZE_BASE);
        return Collections.unmodifiableMap(values);
    }
}
