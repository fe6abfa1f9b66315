//! Spoken test lectures (espeak-ng), shared by the tests and the benchmarks that measure the
//! recogniser: English lectures with the decks that carry their terms, and one lecture in each of
//! three other languages.

use anyhow::{ensure, Context, Result};
use std::process::Command;

/// (what the teacher says, the deck's pages)
pub const LECTURES: [(&str, &[&str]); 3] = [
    (
        "Today we study photosynthesis, the process that feeds almost every living thing. \
         Inside each leaf cell, the chloroplast holds stacks of thylakoid membranes. \
         The thylakoid membranes carry chlorophyll, the pigment that absorbs red and blue light. \
         Carbon dioxide enters the leaf through small pores called stomata. \
         In the Calvin cycle, the enzyme Rubisco fixes carbon dioxide into sugar. \
         Rubisco is probably the most abundant protein on Earth. \
         The sugar made by photosynthesis is burned later in the mitochondria. \
         So chlorophyll captures the light, and the stomata let the gas in.",
        &[
            "Photosynthesis\nWhere it happens: the chloroplast",
            "Thylakoid membranes\nChlorophyll absorbs red and blue light",
            "Stomata\nGas exchange through the leaf",
            "The Calvin cycle\nRubisco fixes CO2",
            "Where the sugar goes\nRespiration in the mitochondria",
        ],
    ),
    (
        "Welcome back. Today we look at the immune system. When bacteria enter a wound, white cells called \
         macrophages arrive first. A macrophage swallows the bacteria by phagocytosis. Then lymphocytes join \
         the fight. B lymphocytes make antibodies, and each antibody fits one antigen, like a key in a lock. \
         Some lymphocytes remember the antigen for years. That memory is why vaccination works. \
         A vaccine shows the immune system a harmless antigen, so the antibodies are ready before the real \
         infection. Next week we study inflammation and the role of histamine.",
        &[
            "The immune system\nMacrophages and phagocytosis",
            "Lymphocytes\nB cells make antibodies",
            "Antibody and antigen\nLock and key",
            "Vaccination\nImmune memory",
            "Next week\nInflammation and histamine",
        ],
    ),
    (
        "Let us talk about plate tectonics. The lithosphere is broken into plates that float on the \
         asthenosphere. Where two plates move apart, magma rises and forms new crust along a rift. \
         Where an oceanic plate sinks under a continent, we call it subduction. \
         Subduction zones make deep trenches and chains of volcanoes. The Andes formed above a subduction zone. \
         When plates slide past each other, stress builds until an earthquake releases it. \
         Seismometers record the waves, and the magnitude tells us how much energy was released.",
        &[
            "Plate tectonics\nLithosphere and asthenosphere",
            "Divergent boundaries\nMagma and rifts",
            "Subduction\nTrenches and volcanoes",
            "Transform faults\nEarthquakes",
            "Measuring earthquakes\nSeismometers and magnitude",
        ],
    ),
];

/// The same physics lecture in three other languages: (espeak-ng voice = ISO 639-1 code, text).
pub const FOREIGN: [(&str, &str); 3] = [
    (
        "es",
        "Buenos días a todos. Hoy estudiamos el movimiento. \
         La velocidad es el cambio de la posición con el tiempo. \
         Un coche que recorre sesenta metros en tres segundos va a veinte metros por segundo. \
         La aceleración es el cambio de la velocidad. \
         Una pelota que cae aumenta su velocidad unos diez metros por segundo cada segundo. \
         Mañana veremos la fuerza y la masa.",
    ),
    (
        "de",
        "Guten Morgen zusammen. Heute lernen wir die Bewegung kennen. \
         Die Geschwindigkeit ist die Änderung des Ortes mit der Zeit. \
         Ein Auto, das in drei Sekunden sechzig Meter fährt, hat eine Geschwindigkeit von zwanzig Metern pro Sekunde. \
         Die Beschleunigung ist die Änderung der Geschwindigkeit. \
         Ein fallender Ball wird in jeder Sekunde um etwa zehn Meter pro Sekunde schneller. \
         Morgen sprechen wir über Kraft und Masse.",
    ),
    (
        "fr",
        "Bonjour à tous. Aujourd'hui nous étudions le mouvement. \
         La vitesse est la variation de la position au cours du temps. \
         Une voiture qui parcourt soixante mètres en trois secondes roule à vingt mètres par seconde. \
         L'accélération est la variation de la vitesse. \
         Une balle qui tombe accélère d'environ dix mètres par seconde chaque seconde. \
         Demain nous verrons la force et la masse.",
    ),
];

/// The foreign lecture in `language`.
pub fn foreign(language: &str) -> &'static str {
    FOREIGN.iter().find(|(l, _)| *l == language).map(|(_, t)| *t).expect("a sample lecture in that language")
}

/// Of the times the script says a term, how many the transcript spells right (as many times).
pub fn recall(terms: &[String], script: &str, heard: &str) -> (usize, usize) {
    let (said, got) = (crate::text::words(script), crate::text::words(heard));
    let count = |ws: &[String], t: &str| ws.iter().filter(|w| w.as_str() == t).count();
    terms.iter().map(|t| t.to_lowercase()).fold((0, 0), |(right, all), t| {
        let n = count(&said, &t);
        (right + n.min(count(&got, &t)), all + n)
    })
}

/// `script` spoken by espeak-ng in `voice` at `wpm` words a minute, as 16 kHz mono WAV bytes.
pub fn speak_wav(voice: &str, wpm: u32, script: &str) -> Result<Vec<u8>> {
    let dir = std::env::temp_dir().join(format!("studio-sample-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)?;
    let (raw, wav) = (dir.join("raw.wav"), dir.join("lecture.wav"));
    let spoken =
        Command::new("espeak-ng").args(["-v", voice, "-s", &wpm.to_string(), "-w"]).arg(&raw).arg(script).status();
    ensure!(spoken.context("running espeak-ng")?.success(), "espeak-ng failed");
    let sox = Command::new("sox").arg(&raw).args(["-r", "16000", "-c", "1", "-b", "16"]).arg(&wav).status();
    ensure!(sox.context("running sox")?.success(), "sox failed");
    let bytes = std::fs::read(&wav)?;
    std::fs::remove_dir_all(&dir)?;
    Ok(bytes)
}

/// The same as samples for whisper.
pub fn speak(voice: &str, wpm: u32, script: &str) -> Result<Vec<f32>> {
    Ok(crate::decode::to_whisper(speak_wav(voice, wpm, script)?, Some("audio/wav"))?.0)
}
