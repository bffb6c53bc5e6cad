package io.statebackend.incremental.rocksdb.options;

import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.IllegalConfigurationException;
import org.apache.flink.configuration.ReadableConfig;

import java.util.Map;

/**
 * Reads options so that every wrong value fails with an {@link IllegalConfigurationException}
 * naming the key and the value as the user wrote it.
 */
public final class ConfigValues {

    private ConfigValues() {}

    /** The typed value, or the option's default; a value of the wrong type fails. */
    public static <T> T read(ReadableConfig config, ConfigOption<T> option) {
        try {
            return config.get(option);
        } catch (IllegalArgumentException e) {
            throw invalid(option, rawValue(config, option), rootMessage(e));
        }
    }

    /** Whether the user set the key (or one of its fallback keys). */
    public static boolean isSet(ReadableConfig config, ConfigOption<?> option) {
        return rawValueOrNull(config, option) != null;
    }

    /** The value as written in the configuration, for messages. */
    public static String rawValue(ReadableConfig config, ConfigOption<?> option) {
        String value = rawValueOrNull(config, option);
        return value != null ? value : "(not set)";
    }

    private static String rawValueOrNull(ReadableConfig config, ConfigOption<?> option) {
        Map<String, String> all = config.toMap();
        String value = all.get(option.key());
        if (value == null) {
            for (org.apache.flink.configuration.FallbackKey fallback : option.fallbackKeys()) {
                value = all.get(fallback.getKey());
                if (value != null) {
                    break;
                }
            }
        }
        return value;
    }

    public static IllegalConfigurationException invalid(
            ConfigOption<?> option, String value, String reason) {
        return new IllegalConfigurationException(
                String.format(
                        "Invalid value '%s' for configuration key '%s': %s.",
                        value, option.key(), reason));
    }

    private static String rootMessage(Throwable t) {
        Throwable cause = t;
        while (cause.getCause() != null && cause.getCause() != cause) {
            cause = cause.getCause();
        }
        return String.valueOf(cause.getMessage());
    }
}
