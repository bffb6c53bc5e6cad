package io.statebackend.incremental.plugin;

import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.IllegalConfigurationException;
import org.apache.flink.runtime.state.StateBackendFactory;

import org.junit.jupiter.api.Test;

import java.lang.reflect.InvocationTargetException;
import java.net.URL;
import java.net.URLClassLoader;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The backend refuses to start against FRocksDB. Here FRocksDB is on the class path, as in Flink's
 * distribution; a class loader that takes the backend's jar but leaves {@code org.rocksdb} to its
 * parent stands for the backend jar placed in {@code lib/} or in a job jar.
 */
class RocksDBVersionGuardTest {

    private static final ClassLoader APP = RocksDBVersionGuardTest.class.getClassLoader();

    @Test
    void backendOnFRocksDBFailsWhenCreated() throws Exception {
        try (URLClassLoader loader = new URLClassLoader(backendJar(), APP)) {
            final Class<?> backendClass = Class.forName(FlinkHome.BACKEND_CLASS, true, loader);
            assertThat(backendClass.getClassLoader()).isSameAs(loader);
            assertThat(
                            Class.forName("org.rocksdb.RocksDB", false, loader)
                                    .getProtectionDomain()
                                    .getCodeSource()
                                    .getLocation()
                                    .toString())
                    .contains("frocksdbjni");

            assertThatThrownBy(() -> backendClass.getConstructor().newInstance())
                    .isInstanceOf(InvocationTargetException.class)
                    .cause()
                    .satisfies(RocksDBVersionGuardTest::namesFRocksDBAndThePluginsFolder);
        }
    }

    @Test
    void backendJarInLibFailsThroughTheFactory() throws Exception {
        // the whole backend jar where Flink would load it, its classes first: the factory finds
        // the backend beside itself and does not look for the plugin
        try (URLClassLoader loader =
                new ChildFirstClassLoader(backendJar(), APP, "io.statebackend.incremental.")) {
            final Class<?> factoryClass = Class.forName(FlinkHome.FACTORY_CLASS, true, loader);
            assertThat(factoryClass.getClassLoader()).isSameAs(loader);
            final StateBackendFactory<?> factory =
                    (StateBackendFactory<?>) factoryClass.getDeclaredConstructor().newInstance();

            assertThatThrownBy(() -> factory.createFromConfig(new Configuration(), loader))
                    .satisfies(RocksDBVersionGuardTest::namesFRocksDBAndThePluginsFolder);
        }
    }

    private static void namesFRocksDBAndThePluginsFolder(Throwable error) {
        assertThat(error)
                .isInstanceOf(IllegalConfigurationException.class)
                .hasMessageContaining("FRocksDB")
                .hasMessageContaining("6.20.3-ververica-2.0")
                .hasMessageContaining("frocksdbjni")
                .hasMessageContaining("plugins/statebackend-incremental/")
                .hasMessageContaining("lib/");
    }

    private static URL[] backendJar() throws Exception {
        return new URL[] {FlinkHome.backendJar().toUri().toURL()};
    }
}
