package io.statebackend.incremental.config;

import io.statebackend.incremental.IncrementalRocksDBConfigurableOptions;
import io.statebackend.incremental.IncrementalRocksDBOptions;
import io.statebackend.incremental.rocksdb.options.FlinkRocksDBKeys;

import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.MemorySize;
import org.apache.flink.configuration.description.BlockElement;
import org.apache.flink.configuration.description.HtmlFormatter;
import org.apache.flink.configuration.description.TextElement;
import org.apache.flink.util.TimeUtils;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The options tables of README.md are generated from the option definitions, so that they cannot
 * drift. Regenerate with {@code mvn -pl flink-statebackend-incremental test
 * -Dtest=OptionsReadmeTest -Dreadme.update=true}.
 */
class OptionsReadmeTest {

    static final String START = "<!-- options:start -->";
    static final String END = "<!-- options:end -->";

    private static final Class<?>[] OPTION_CLASSES = {
        IncrementalRocksDBOptions.class, IncrementalRocksDBConfigurableOptions.class
    };

    @Test
    void readmeOptionsAreUpToDate() throws IOException {
        Path readme = readme();
        String text = new String(Files.readAllBytes(readme), StandardCharsets.UTF_8);
        int start = text.indexOf(START);
        int end = text.indexOf(END);
        assertThat(start).as("marker %s in %s", START, readme).isNotNegative();
        assertThat(end).as("marker %s in %s", END, readme).isGreaterThan(start);
        String current = text.substring(start + START.length(), end);
        String generated = "\n" + generate() + "\n";
        if (Boolean.getBoolean("readme.update")) {
            String updated =
                    text.substring(0, start + START.length()) + generated + text.substring(end);
            Files.write(readme, updated.getBytes(StandardCharsets.UTF_8));
            return;
        }
        assertThat(current)
                .as(
                        "The options tables of README.md are out of date. Regenerate them with:"
                                + " mvn -pl flink-statebackend-incremental test"
                                + " -Dtest=OptionsReadmeTest -Dreadme.update=true")
                .isEqualTo(generated);
    }

    private static Path readme() {
        Path here = Paths.get("").toAbsolutePath();
        for (Path dir = here; dir != null; dir = dir.getParent()) {
            if (Files.isRegularFile(dir.resolve("README.md"))
                    && Files.isDirectory(dir.resolve("flink-statebackend-incremental"))) {
                return dir.resolve("README.md");
            }
        }
        throw new AssertionError("No README.md of the project above " + here);
    }

    /** The tables between the markers. */
    static String generate() {
        StringBuilder out = new StringBuilder();
        out.append("| Key | Default | Meaning |\n|---|---|---|\n");
        for (ConfigOption<?> option : options()) {
            if (FlinkRocksDBKeys.reasonNotApplicable(option.key()) != null) {
                continue;
            }
            out.append("| `")
                    .append(option.key())
                    .append("` | ")
                    .append(defaultValue(option))
                    .append(" | ")
                    .append(description(option))
                    .append(" |\n");
        }
        out.append(
                "\nKeys of Flink's RocksDB backend that are recognised and validated but have no"
                        + " effect here; setting one logs a WARN at start:\n\n");
        out.append("| Key | Default | What the backend does instead |\n|---|---|---|\n");
        for (Map.Entry<ConfigOption<?>, String> entry :
                FlinkRocksDBKeys.notApplicableOptions().entrySet()) {
            out.append("| `")
                    .append(entry.getKey().key())
                    .append("` | ")
                    .append(defaultValue(entry.getKey()))
                    .append(" | ")
                    .append(capitalized(entry.getValue()))
                    .append(". |\n");
        }
        out.append(
                "\nThe native metric switches `"
                        + FlinkRocksDBKeys.METRICS_PREFIX
                        + "*` are read by the backend's metrics.");
        return out.toString();
    }

    private static List<ConfigOption<?>> options() {
        List<ConfigOption<?>> options = new ArrayList<>();
        for (Class<?> holder : OPTION_CLASSES) {
            for (Field field : holder.getFields()) {
                if (Modifier.isStatic(field.getModifiers())
                        && ConfigOption.class.isAssignableFrom(field.getType())) {
                    try {
                        options.add((ConfigOption<?>) field.get(null));
                    } catch (IllegalAccessException e) {
                        throw new AssertionError(e);
                    }
                }
            }
        }
        return options;
    }

    private static String defaultValue(ConfigOption<?> option) {
        if (!option.hasDefaultValue()) {
            return "(none)";
        }
        Object value = option.defaultValue();
        String text;
        if (value instanceof MemorySize) {
            text = memorySize((MemorySize) value);
        } else if (value instanceof Duration) {
            // as Flink's configuration writes and reads it, not ISO-8601
            text = TimeUtils.formatWithHighestUnit((Duration) value);
        } else if (value instanceof List) {
            List<String> names = new ArrayList<>();
            for (Object element : (List<?>) value) {
                names.add(String.valueOf(element));
            }
            text = String.join(";", names);
        } else {
            text = String.valueOf(value);
        }
        return "`" + text + "`";
    }

    private static String memorySize(MemorySize size) {
        long bytes = size.getBytes();
        String[] units = {"gb", "mb", "kb"};
        long[] factors = {1L << 30, 1L << 20, 1L << 10};
        for (int i = 0; i < units.length; i++) {
            if (bytes >= factors[i] && bytes % factors[i] == 0) {
                return bytes / factors[i] + units[i];
            }
        }
        return String.valueOf(bytes);
    }

    private static String description(ConfigOption<?> option) {
        StringBuilder text = new StringBuilder();
        for (BlockElement block : option.description().getBlocks()) {
            if (block instanceof TextElement && ((TextElement) block).getElements().isEmpty()) {
                text.append(((TextElement) block).getFormat());
            } else {
                text.append(new HtmlFormatter().format(option.description()));
                break;
            }
        }
        return text.toString().replace("|", "\\|");
    }

    private static String capitalized(String text) {
        return Character.toUpperCase(text.charAt(0)) + text.substring(1);
    }
}
