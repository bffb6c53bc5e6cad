package io.statebackend.incremental.bench;

import org.apache.flink.configuration.Configuration;
import org.apache.flink.runtime.state.ConfigurableStateBackend;
import org.apache.flink.runtime.state.StateBackend;
import org.apache.flink.runtime.state.hashmap.HashMapStateBackend;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One backend and its settings in the checkpoint benchmark, written {@code label:kind[:settings]}.
 * Kinds: {@code incremental} (this backend, incremental checkpoints), {@code full} (this backend,
 * canonical full checkpoints), {@code flink-rocksdb} (Flink's {@code EmbeddedRocksDBStateBackend},
 * incremental checkpoints) and {@code heap} (Flink's {@code HashMapStateBackend}). Settings are
 * {@code ;}-separated {@code name=value} pairs: a name with a dot is a configuration key (for
 * example {@code state.backend.rocksdb.compaction.style=UNIVERSAL}); the other names are RocksDB
 * compaction options Flink has no key for, set by {@link CompactionVariant}.
 *
 * <p>Backends are created by class name, so that the driver runs on a class path that has only one
 * of the two RocksDB backends.
 */
final class CheckpointSetup {

    private static final String THIS_BACKEND =
            "io.statebackend.incremental.IncrementalRocksDBStateBackend";
    private static final String FLINK_ROCKSDB =
            "org.apache.flink.contrib.streaming.state.EmbeddedRocksDBStateBackend";
    private static final String VARIANT_FACTORY =
            "io.statebackend.incremental.bench.CompactionVariant";

    /** The configuration entry {@link CompactionVariant} reads (not linked: see above). */
    private static final String VARIANT_SPEC = "bench.compaction";

    final String label;
    final String kind;
    final Map<String, String> config = new LinkedHashMap<>();
    final List<String> compaction = new ArrayList<>();

    private CheckpointSetup(String label, String kind) {
        this.label = label;
        this.kind = kind;
    }

    static CheckpointSetup parse(String text) {
        String[] parts = text.split(":", 3);
        if (parts.length < 2 || parts[0].isEmpty()) {
            throw new IllegalArgumentException(
                    "A setup is label:kind[:settings], got '" + text + "'");
        }
        CheckpointSetup setup = new CheckpointSetup(parts[0], parts[1]);
        switch (setup.kind) {
            case "incremental":
            case "full":
            case "flink-rocksdb":
            case "heap":
                break;
            default:
                throw new IllegalArgumentException(
                        "Unknown kind '"
                                + setup.kind
                                + "'; one of incremental, full, flink-rocksdb, heap");
        }
        if (parts.length == 3) {
            for (String pair : parts[2].split(";")) {
                if (pair.isBlank()) {
                    continue;
                }
                int equals = pair.indexOf('=');
                if (equals <= 0) {
                    throw new IllegalArgumentException("Expected name=value, got '" + pair + "'");
                }
                String name = pair.substring(0, equals).trim();
                if (name.contains(".")) {
                    setup.config.put(name, pair.substring(equals + 1).trim());
                } else {
                    setup.compaction.add(pair.trim());
                }
            }
        }
        if (!setup.compaction.isEmpty() && !setup.isThisBackend()) {
            throw new IllegalArgumentException(
                    "Compaction settings without a configuration key apply to this backend only: "
                            + text);
        }
        return setup;
    }

    boolean isThisBackend() {
        return kind.equals("incremental") || kind.equals("full");
    }

    boolean isIncremental() {
        return !kind.equals("full") && !kind.equals("heap");
    }

    /** What the setup is, for the report. */
    String describe() {
        List<String> settings = new ArrayList<>();
        config.forEach((key, value) -> settings.add(key + "=" + value));
        settings.addAll(compaction);
        String backend;
        switch (kind) {
            case "incremental":
                backend = "this backend, incremental checkpoints";
                break;
            case "full":
                backend = "this backend, full checkpoints";
                break;
            case "flink-rocksdb":
                backend = "Flink's EmbeddedRocksDBStateBackend, incremental checkpoints";
                break;
            default:
                backend = "Flink's HashMapStateBackend";
        }
        return settings.isEmpty() ? backend : backend + "; " + String.join("; ", settings);
    }

    /** Creates the configured backend; its local directories go under {@code localDir}. */
    StateBackend create(Path localDir, int transferThreads) throws Exception {
        if (kind.equals("heap")) {
            return new HashMapStateBackend();
        }
        Configuration configuration = new Configuration();
        configuration.setString("state.backend.incremental", String.valueOf(isIncremental()));
        configuration.setString("state.backend.rocksdb.localdir", localDir.toString());
        configuration.setString(
                "state.backend.rocksdb.checkpoint.transfer.thread.num",
                String.valueOf(transferThreads));
        if (!compaction.isEmpty()) {
            configuration.setString("state.backend.rocksdb.options-factory", VARIANT_FACTORY);
            configuration.setString(VARIANT_SPEC, String.join(",", compaction));
        }
        config.forEach(configuration::setString);
        String className = isThisBackend() ? THIS_BACKEND : FLINK_ROCKSDB;
        Object backend = Class.forName(className).getConstructor().newInstance();
        return ((ConfigurableStateBackend) backend)
                .configure(configuration, CheckpointSetup.class.getClassLoader());
    }
}
