package io.statebackend.incremental.plugin.locator;

import io.statebackend.incremental.plugin.ChildFirstClassLoader;
import io.statebackend.incremental.plugin.FlinkHome;

import org.apache.flink.configuration.ConfigConstants;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.IllegalConfigurationException;
import org.apache.flink.runtime.state.StateBackend;
import org.apache.flink.runtime.state.StateBackendFactory;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Where the factory looks for the plugin when {@code FLINK_PLUGINS_DIR} is not set: the system
 * property {@code flink.plugins.dir}, else {@code plugins} in the working directory. This test
 * execution has the class path of {@code plugin-isolation} but no {@code FLINK_PLUGINS_DIR}.
 *
 * <p>The factory opens the plugin once per JVM and remembers it in a static field, so every test
 * loads the loader jar's two classes afresh, in a class loader of its own.
 */
class PluginsDirectoryTest {

    private static final String PROPERTY = "flink.plugins.dir";

    @TempDir Path temp;

    @BeforeAll
    static void environmentDoesNotNameThePluginsDirectory() {
        assertThat(System.getenv(ConfigConstants.ENV_FLINK_PLUGINS_DIR)).isNull();
    }

    @AfterEach
    void clearProperty() {
        System.clearProperty(PROPERTY);
    }

    @Test
    void systemPropertyNamesThePluginsDirectory() throws Exception {
        System.setProperty(PROPERTY, FlinkHome.pluginsDir().toString());
        try (URLClassLoader loaderJar = freshLoaderJar()) {
            final StateBackend backend =
                    factory(loaderJar).createFromConfig(new Configuration(), loaderJar);

            assertThat(backend.getClass().getName()).isEqualTo(FlinkHome.BACKEND_CLASS);
            assertThat(backend.getClass().getClassLoader().getClass().getName())
                    .isEqualTo("org.apache.flink.core.plugin.PluginLoader$PluginClassLoader");
        }
    }

    @Test
    void missingPluginFolderIsReportedAsNotInstalled() throws Exception {
        System.setProperty(PROPERTY, temp.toString());
        assertNotInstalled(temp.resolve(FlinkHome.PLUGIN_FOLDER));
    }

    @Test
    void pluginFolderWithoutJarsIsReportedAsNotInstalled() throws Exception {
        final Path folder = Files.createDirectory(temp.resolve(FlinkHome.PLUGIN_FOLDER));
        Files.writeString(folder.resolve("README.txt"), "not a jar");
        System.setProperty(PROPERTY, temp.toString());
        assertNotInstalled(folder);
    }

    @Test
    void withoutEnvironmentOrPropertyThePluginsFolderOfTheWorkingDirectoryIsUsed()
            throws Exception {
        final Path workingDir = new File("").getAbsoluteFile().toPath();
        assertThat(workingDir.resolve("plugins").resolve(FlinkHome.PLUGIN_FOLDER)).doesNotExist();
        assertNotInstalled(workingDir.resolve("plugins").resolve(FlinkHome.PLUGIN_FOLDER));
    }

    private static void assertNotInstalled(Path folder) throws Exception {
        try (URLClassLoader loaderJar = freshLoaderJar()) {
            final StateBackendFactory<?> factory = factory(loaderJar);
            assertThatThrownBy(() -> factory.createFromConfig(new Configuration(), loaderJar))
                    .isInstanceOf(IllegalConfigurationException.class)
                    .hasMessageContaining("not installed")
                    .hasMessageContaining(folder.toFile().getCanonicalPath())
                    .hasMessageContaining(ConfigConstants.ENV_FLINK_PLUGINS_DIR);
        }
    }

    private static URLClassLoader freshLoaderJar() throws Exception {
        return new ChildFirstClassLoader(
                new URL[] {FlinkHome.loaderJar().toUri().toURL()},
                PluginsDirectoryTest.class.getClassLoader(),
                "io.statebackend.incremental.");
    }

    private static StateBackendFactory<?> factory(ClassLoader loaderJar) throws Exception {
        final Class<?> factoryClass = Class.forName(FlinkHome.FACTORY_CLASS, true, loaderJar);
        assertThat(factoryClass.getClassLoader()).isSameAs(loaderJar);
        return (StateBackendFactory<?>) factoryClass.getDeclaredConstructor().newInstance();
    }
}
