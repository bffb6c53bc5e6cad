package io.statebackend.incremental.plugin;

import java.nio.file.Path;
import java.nio.file.Paths;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The distribution unpacked as into {@code $FLINK_HOME} by the tests module's build: the loader jar
 * in {@code lib/}, the backend with upstream RocksDB in {@code plugins/statebackend-incremental/}.
 */
public final class FlinkHome {

    public static final String PLUGIN_FOLDER = "statebackend-incremental";

    public static final String BACKEND_CLASS =
            "io.statebackend.incremental.IncrementalRocksDBStateBackend";

    public static final String FACTORY_CLASS =
            "io.statebackend.incremental.IncrementalRocksDBStateBackendFactory";

    private FlinkHome() {}

    public static Path root() {
        return Paths.get(property("test.flink.home"));
    }

    public static Path pluginsDir() {
        return root().resolve("plugins");
    }

    public static Path loaderJar() {
        return root().resolve("lib")
                .resolve("flink-statebackend-incremental-loader-" + version() + ".jar");
    }

    public static Path backendJar() {
        return pluginsDir()
                .resolve(PLUGIN_FOLDER)
                .resolve("flink-statebackend-incremental-" + version() + ".jar");
    }

    private static String version() {
        return property("test.project.version");
    }

    private static String property(String name) {
        final String value = System.getProperty(name);
        assertThat(value)
                .as("system property %s (set by the tests module's surefire configuration)", name)
                .isNotBlank()
                .doesNotContain("${");
        return value;
    }
}
