package io.statebackend.incremental.plugin;

import io.statebackend.incremental.IncrementalRocksDBStateBackendFactory;

import org.apache.flink.configuration.ConfigConstants;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.IllegalConfigurationException;
import org.apache.flink.runtime.state.StateBackend;

import org.junit.jupiter.api.Test;

import java.net.URISyntaxException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Arrays;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The class path of this test execution is a Flink cluster's: Flink with its own RocksDB backend
 * and FRocksDB, and the loader jar from {@code lib/}. The backend and upstream RocksDB are only in
 * the plugins directory, which {@code FLINK_PLUGINS_DIR} names. The factory must find them there
 * and create the backend in the plugin's class loader, which it opens once per JVM.
 */
class PluginClassLoadingTest {

    private static final ClassLoader APP = PluginClassLoadingTest.class.getClassLoader();

    @Test
    void backendIsNotOnTheClassPath() {
        for (String name :
                Arrays.asList(
                        FlinkHome.BACKEND_CLASS,
                        "io.statebackend.incremental.loader.DirectBackendFactory",
                        "io.statebackend.incremental.loader.RocksDBVersionGuard")) {
            assertThatThrownBy(() -> Class.forName(name))
                    .as(name)
                    .isInstanceOf(ClassNotFoundException.class);
        }
    }

    @Test
    void factoryOnTheClassPathIsTheLoaderJars() throws URISyntaxException {
        final URL location =
                IncrementalRocksDBStateBackendFactory.class
                        .getProtectionDomain()
                        .getCodeSource()
                        .getLocation();
        assertThat(Paths.get(location.toURI()).toAbsolutePath().normalize())
                .isEqualTo(FlinkHome.loaderJar().toAbsolutePath().normalize());
    }

    @Test
    void classPathHoldsFlinksRocksDBBackendAndFRocksDB() throws ClassNotFoundException {
        Class.forName("org.apache.flink.contrib.streaming.state.EmbeddedRocksDBStateBackend");
        // only in FRocksDB
        Class.forName("org.rocksdb.FlinkCompactionFilter");
        // only in upstream RocksDB 7 and later
        assertThatThrownBy(() -> Class.forName("org.rocksdb.HyperClockCache"))
                .isInstanceOf(ClassNotFoundException.class);
    }

    @Test
    void pluginsDirectoryComesFromTheEnvironment() {
        assertThat(System.getenv(ConfigConstants.ENV_FLINK_PLUGINS_DIR))
                .isNotNull()
                .satisfies(
                        dir ->
                                assertThat(Paths.get(dir).toAbsolutePath().normalize())
                                        .isEqualTo(
                                                FlinkHome.pluginsDir()
                                                        .toAbsolutePath()
                                                        .normalize()));
    }

    @Test
    void factoryCreatesTheBackendInThePluginClassLoader() throws Exception {
        final StateBackend backend =
                new IncrementalRocksDBStateBackendFactory()
                        .createFromConfig(new Configuration(), APP);

        assertThat(backend.getClass().getName()).isEqualTo(FlinkHome.BACKEND_CLASS);
        final ClassLoader plugin = backend.getClass().getClassLoader();
        assertThat(plugin).isNotSameAs(APP).isNotSameAs(ClassLoader.getSystemClassLoader());
        assertThat(plugin.getClass().getName())
                .isEqualTo("org.apache.flink.core.plugin.PluginLoader$PluginClassLoader");
        assertThat(plugin).isInstanceOf(URLClassLoader.class);
        assertThat(
                        Arrays.stream(((URLClassLoader) plugin).getURLs())
                                .map(PluginClassLoadingTest::fileName))
                .containsExactlyInAnyOrder(
                        FlinkHome.backendJar().getFileName().toString(),
                        "rocksdbjni-" + System.getProperty("test.rocksdb.version") + ".jar");

        // the plugin sees upstream RocksDB, its own copy of org.rocksdb
        final Class<?> pluginRocksDb = Class.forName("org.rocksdb.RocksDB", false, plugin);
        assertThat(pluginRocksDb.getClassLoader()).isSameAs(plugin);
        assertThat(pluginRocksDb).isNotSameAs(Class.forName("org.rocksdb.RocksDB", false, APP));
        assertThat(Class.forName("org.rocksdb.HyperClockCache", false, plugin).getClassLoader())
                .isSameAs(plugin);
        assertThatThrownBy(() -> Class.forName("org.rocksdb.FlinkCompactionFilter", false, plugin))
                .isInstanceOf(ClassNotFoundException.class);

        // ... and shares Flink's classes with the class path
        assertThat(Class.forName(StateBackend.class.getName(), false, plugin))
                .isSameAs(StateBackend.class);
        assertThat(backend).isInstanceOf(StateBackend.class);
    }

    @Test
    void factoryOpensThePluginOncePerJvm() throws Exception {
        final IncrementalRocksDBStateBackendFactory factory =
                new IncrementalRocksDBStateBackendFactory();
        final StateBackend first = factory.createFromConfig(new Configuration(), APP);
        final StateBackend second =
                new IncrementalRocksDBStateBackendFactory()
                        .createFromConfig(new Configuration(), APP);

        assertThat(second).isNotSameAs(first);
        assertThat(second.getClass()).isSameAs(first.getClass());
        assertThat(second.getClass().getClassLoader()).isSameAs(first.getClass().getClassLoader());
    }

    @Test
    void factoryConfiguresTheBackendInThePlugin() throws Exception {
        final Configuration config = new Configuration();
        config.setString("state.backend.incremental", "false");
        final StateBackend backend =
                new IncrementalRocksDBStateBackendFactory().createFromConfig(config, APP);

        assertThat(backend.getClass().getMethod("isIncrementalCheckpointsEnabled").invoke(backend))
                .isEqualTo(false);
    }

    @Test
    void configurationErrorsOfThePluginReachTheCaller() {
        final Configuration config = new Configuration();
        config.setString("state.backend.rocksdb.memory.write-buffer-ratio", "1.5");

        assertThatThrownBy(
                        () ->
                                new IncrementalRocksDBStateBackendFactory()
                                        .createFromConfig(config, APP))
                .isInstanceOf(IllegalConfigurationException.class)
                .hasMessageContaining("state.backend.rocksdb.memory.write-buffer-ratio")
                .hasMessageContaining("1.5");
    }

    private static String fileName(URL url) {
        try {
            final Path path = Paths.get(url.toURI());
            return path.getFileName().toString();
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }
}
