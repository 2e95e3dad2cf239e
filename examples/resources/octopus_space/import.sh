terraform import octopus_space.platform Spaces-2
